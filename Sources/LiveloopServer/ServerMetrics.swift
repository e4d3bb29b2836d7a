import Foundation
import LiveMedia
import Prometheus
import RTMP
import Synchronization

/// The Prometheus metrics of the server. Counters are bumped as things happen; per-channel gauges (publishers,
/// viewers, ingest frame rate and bitrate) are read from the broadcasts when `/metrics` is scraped.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let bytesOut: Counter
    let hlsRequests: Counter
    let rtmpConnections: Gauge
    let viewers: ViewerTracker
    private let channelGauges = Mutex<[String: ChannelGauges]>([:])

    struct ChannelGauges {
        var publishing: Gauge
        var viewers: Gauge
        var frameRate: Gauge
        var bitrate: Gauge
        var bytesIn: Gauge
        var videoFrames: Gauge
    }

    init(viewers: ViewerTracker) {
        self.viewers = viewers
        bytesOut = registry.makeCounter(name: "liveloop_http_media_bytes_out_total", help: "Bytes of playlists and media sent over HTTP")
        hlsRequests = registry.makeCounter(name: "liveloop_hls_requests_total", help: "LL-HLS requests served")
        rtmpConnections = registry.makeGauge(name: "liveloop_rtmp_connections", help: "Open RTMP connections")
    }

    /// Refreshes the per-channel gauges and renders the exposition text.
    func render(broadcasts: [Broadcast], rtmp: RTMPConnectionSet, now: Date) -> String {
        rtmpConnections.set(Double(rtmp.count))
        channelGauges.withLock { gauges in
            for broadcast in broadcasts {
                let name = broadcast.channel
                let g = gauges[name] ?? {
                    let labels = [("channel", name)]
                    return ChannelGauges(
                        publishing: registry.makeGauge(name: "liveloop_publishers", labels: labels, help: "1 while a publisher is live"),
                        viewers: registry.makeGauge(name: "liveloop_viewers", labels: labels, help: "Distinct HLS clients in the last 10 s"),
                        frameRate: registry.makeGauge(name: "liveloop_ingest_frame_rate", labels: labels, help: "Ingest video frames per second"),
                        bitrate: registry.makeGauge(name: "liveloop_ingest_bitrate_bps", labels: labels, help: "Ingest bits per second"),
                        bytesIn: registry.makeGauge(name: "liveloop_ingest_bytes_total", labels: labels, help: "Media bytes received from the current publisher"),
                        videoFrames: registry.makeGauge(name: "liveloop_ingest_video_frames_total", labels: labels, help: "Video frames received from the current publisher")
                    )
                }()
                gauges[name] = g
                let stats = broadcast.stats
                g.publishing.set(broadcast.isLive ? 1.0 : 0.0)
                g.viewers.set(Double(viewers.count(channel: name, now: now)))
                g.frameRate.set(stats.frameRate ?? 0)
                g.bitrate.set(Double(stats.bitrate ?? 0))
                g.bytesIn.set(Double(stats.bytesIn))
                g.videoFrames.set(Double(stats.videoFrames))
            }
        }
        return registry.emitToString()
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
