import Foundation
import LiveMedia
import Prometheus
import RTMP
import Synchronization

/// The Prometheus metrics of the server. Counters are bumped as things happen; per-channel gauges (publishers,
/// viewers, ingest frame rate and bitrate) are read from the broadcasts when `/metrics` is scraped. The interaction
/// layer's are in `InteractionMetrics`. docs/operations.md lists every metric.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let bytesOut: Counter
    let hlsRequests: Counter
    let rtmpConnections: Gauge
    let viewers: ViewerTracker
    /// Open connections on the HTTP port (set when scraped).
    let httpConnections: Gauge
    /// Connections the HTTP port's limits turned away or closed, by reason.
    let httpRefusals: HTTPRefusalCounters
    /// The interaction layer: connections per room, messages, votes, answers, commit latency, slow consumers.
    let interaction: InteractionMetrics
    /// Broadcasts with a publisher now.
    let liveBroadcasts: Gauge
    /// Open WebSockets on the HTTP port, interaction and sub-second video together (set when scraped).
    let webSockets: Gauge
    /// Open sub-second video sockets (`/live/CHANNEL/ws`) per channel.
    let videoSockets = ChannelConnections()
    /// WHEP (WebRTC) sessions per channel, from the answered offer until the session ends, however it ends.
    let whepSessions = ChannelConnections()
    private let channelGauges = Mutex<[String: ChannelGauges]>([:])

    struct ChannelGauges {
        var publishing: Gauge
        var viewers: Gauge
        var pathViewers: [VideoPath: Gauge]
        var frameRate: Gauge
        var bitrate: Gauge
        var bytesIn: Gauge
        var videoFrames: Gauge
        var socketViewers: Gauge
    }

    /// A metric named exactly `name` (no unit suffix added).
    static func metric(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    init(viewers: ViewerTracker) {
        self.viewers = viewers
        bytesOut = registry.makeCounter(descriptor: Self.metric("liveloop_http_media_bytes_out_total", "Bytes of playlists and media sent over HTTP"))
        hlsRequests = registry.makeCounter(descriptor: Self.metric("liveloop_hls_requests_total", "LL-HLS requests served"))
        rtmpConnections = registry.makeGauge(descriptor: Self.metric("liveloop_rtmp_connections", "Open RTMP connections"))
        httpConnections = registry.makeGauge(descriptor: Self.metric("liveloop_http_connections", "Open connections on the HTTP port"))
        liveBroadcasts = registry.makeGauge(descriptor: Self.metric("liveloop_broadcasts_live", "Broadcasts with a publisher now"))
        webSockets = registry.makeGauge(descriptor: Self.metric("liveloop_websocket_connections", "Open WebSockets, interaction and video together"))
        interaction = InteractionMetrics(registry: registry)
        let refusals = Self.metric("liveloop_http_refused_total", "HTTP-port connections refused or closed by a limit")
        let registry = registry
        func counter(_ reason: String) -> Counter { registry.makeCounter(descriptor: refusals, labels: [("reason", reason)]) }
        httpRefusals = HTTPRefusalCounters(
            serverFull: counter("server_full"), addressFull: counter("too_many_connections"), headTimeout: counter("request_timeout"),
            headTooLarge: counter("header_too_large"), slowClient: counter("slow_client"), unmaskedFrame: counter("unmasked_frame"),
            tlsHandshakeTimeout: counter("tls_handshake_timeout"), httpsRequired: counter("https_required")
        )
    }

    /// Refreshes the per-channel and per-room gauges and renders the exposition text.
    func render(broadcasts: [Broadcast], rtmp: RTMPConnectionSet, rooms: [String: Int], webSockets open: Int, now: Date) -> String {
        rtmpConnections.set(Double(rtmp.count))
        webSockets.set(Double(open))
        liveBroadcasts.set(Double(broadcasts.count { $0.isLive }))
        interaction.updateConnections(rooms)
        channelGauges.withLock { gauges in
            for broadcast in broadcasts {
                let name = broadcast.channel
                let g = gauges[name] ?? {
                    let labels = [("channel", name)]
                    return ChannelGauges(
                        publishing: registry.makeGauge(descriptor: Self.metric("liveloop_publishers", "1 while a publisher is live"), labels: labels),
                        viewers: registry.makeGauge(descriptor: Self.metric("liveloop_viewers", "Video viewers on every path: LL-HLS clients of the last 10 s, WebSocket fMP4 sockets, WebRTC sessions"), labels: labels),
                        pathViewers: Dictionary(uniqueKeysWithValues: VideoPath.allCases.map { path in
                            (path, registry.makeGauge(descriptor: Self.metric("liveloop_path_viewers", "Video viewers per delivery path"),
                                                      labels: labels + [("path", path.rawValue)]))
                        }),
                        frameRate: registry.makeGauge(descriptor: Self.metric("liveloop_ingest_frame_rate", "Ingest video frames per second"), labels: labels),
                        bitrate: registry.makeGauge(descriptor: Self.metric("liveloop_ingest_bitrate_bps", "Ingest bits per second"), labels: labels),
                        bytesIn: registry.makeGauge(descriptor: Self.metric("liveloop_ingest_bytes", "Media bytes received from the current publisher"), labels: labels),
                        videoFrames: registry.makeGauge(descriptor: Self.metric("liveloop_ingest_video_frames", "Video frames received from the current publisher"), labels: labels),
                        socketViewers: registry.makeGauge(descriptor: Self.metric("liveloop_video_socket_viewers", "Open sub-second video sockets"), labels: labels)
                    )
                }()
                gauges[name] = g
                let stats = broadcast.stats
                g.publishing.set(broadcast.isLive ? 1.0 : 0.0)
                let counts = videoViewers(channel: name, now: now)
                g.viewers.set(Double(counts.total))
                for path in VideoPath.allCases { g.pathViewers[path]?.set(Double(counts[path])) }
                g.frameRate.set(stats.frameRate ?? 0)
                g.bitrate.set(Double(stats.bitrate ?? 0))
                g.bytesIn.set(Double(stats.bytesIn))
                g.videoFrames.set(Double(stats.videoFrames))
                g.socketViewers.set(Double(videoSockets.count(channel: name)))
            }
        }
        return registry.emitToString()
    }

    /// The channel's video viewers now, on each delivery path: what the studio, `GET …/health` and `/metrics` show.
    func videoViewers(channel: String, now: Date) -> VideoViewers {
        VideoViewers(llhls: viewers.count(channel: channel, now: now), websocket: videoSockets.count(channel: channel),
                     webrtc: whepSessions.count(channel: channel))
    }
}

/// The ways video reaches a viewer, named as `liveloop_path_viewers{path}` and `viewersByPath` name them.
enum VideoPath: String, CaseIterable, Sendable {
    /// LL-HLS over HTTP (`/live/CHANNEL/index.m3u8`), possibly through a CDN.
    case llhls
    /// WebSocket fMP4, the sub-second path (`/live/CHANNEL/ws`).
    case websocket
    /// WebRTC playback (WHEP, `/live/CHANNEL/whep`).
    case webrtc
}

/// One channel's video viewers per delivery path. An LL-HLS viewer is a client address that fetched a playlist within
/// the last ten seconds (viewers behind one NAT or CDN edge count once); a WebSocket viewer an open video socket; a
/// WebRTC viewer a WHEP session, connected or still setting up.
struct VideoViewers: Sendable, Equatable, Encodable {
    var llhls: Int
    var websocket: Int
    var webrtc: Int

    /// Every path together.
    var total: Int { llhls + websocket + webrtc }

    subscript(path: VideoPath) -> Int {
        switch path {
        case .llhls: llhls
        case .websocket: websocket
        case .webrtc: webrtc
        }
    }
}

/// Counts distinct HLS clients per channel: an address that fetched a playlist within the last ten seconds is watching.
public final class ViewerTracker: Sendable {
    private let seen = Mutex<[String: [String: Date]]>([:])
    static let window: TimeInterval = 10

    public init() {}

    func touch(channel: String, client: String, now: Date) {
        seen.withLock { seen in
            seen[channel, default: [:]][client] = now
            // Keep the table bounded by forgetting idle clients as we go.
            if seen[channel, default: [:]].count > 10_000 {
                seen[channel] = seen[channel]?.filter { now.timeIntervalSince($0.value) < Self.window }
            }
        }
    }

    public func count(channel: String, now: Date) -> Int {
        seen.withLock { seen in
            seen[channel]?.values.filter { now.timeIntervalSince($0) < Self.window }.count ?? 0
        }
    }
}

/// Open connections of one kind (video sockets, WHEP sessions) per channel: one lock per connection opened or closed,
/// never per fragment.
final class ChannelConnections: Sendable {
    private let open = Mutex<[String: Int]>([:])

    func opened(_ channel: String) { open.withLock { $0[channel, default: 0] += 1 } }

    func closed(_ channel: String) {
        open.withLock { open in
            let left = (open[channel] ?? 1) - 1
            open[channel] = left > 0 ? left : nil
        }
    }

    func count(channel: String) -> Int { open.withLock { $0[channel] ?? 0 } }
}

/// One counter per reason the HTTP port's guard refuses or closes a connection (`liveloop_http_refused_total{reason}`).
struct HTTPRefusalCounters: Sendable {
    let serverFull: Counter
    let addressFull: Counter
    let headTimeout: Counter
    let headTooLarge: Counter
    let slowClient: Counter
    let unmaskedFrame: Counter
    /// HTTPS connections closed because the TLS handshake did not finish within the head timeout.
    let tlsHandshakeTimeout: Counter
    /// Plain HTTP requests on a TLS-only HTTP port, answered with 400 `https_required`.
    let httpsRequired: Counter
}
