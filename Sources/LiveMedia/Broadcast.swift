import Foundation
import Logging
import MediaFormats
import NIOCore
import Synchronization

/// One live session of a channel: a hub between one publisher at a time and its subscribers.
///
/// The logic is ``BroadcastCore``, a state machine behind this shell's one lock (the hub lock), which it feeds events
/// and whose actions it performs: deliveries to subscribers, detaches and log lines. The consumers are subscribers
/// (``BroadcastSubscriber``), each behind its own lock with its own bounded queue and policy when full; the LL-HLS
/// rendition (``HLSRendition``, with its playlist waiters, part readers and WebSocket viewers) is the first, attached
/// at creation. Ingest calls `ingest(_:now:)` from the publisher's event loop; HTTP handlers read the rendition from any
/// thread under the rendition's lock, and take the hub lock only to copy the statistics or the publisher state.
public final class Broadcast: Sendable {
    public let channel: String
    public let configuration: HLSConfiguration
    /// The node this broadcast is relayed from (its `--node-id`), nil for a broadcast published here. A relayed
    /// broadcast is fed by ``relay(_:now:)`` with the origin's timeline and clock; nothing here records, transcodes or
    /// pushes it (the origin does). Nil too once a publisher here took it over (``takeOver()``).
    public var relayedFrom: String? { origin.withLock { $0 } }
    private let origin: Mutex<String?>

    /// How a part request is answered.
    public enum PartResponse: Sendable {
        case complete(ByteBuffer)
        /// The part is being written: its bytes so far, then each chunk as it is packaged, ending with the part.
        case streaming(AsyncStream<ByteBuffer>)
        case notFound
    }

    public enum PlaylistError: Error, Equatable, Sendable {
        /// `_HLS_msn` too far ahead of the live edge (RFC 8216bis §6.2.5.2).
        case tooFarAhead
        /// The requested part did not appear within three target durations.
        case timedOut
        /// Nothing has been packaged yet.
        case notReady
    }

    struct Hub: Sendable {
        var core: BroadcastCore
        var subscribers: [BroadcastSubscriberID: any BroadcastSubscriber] = [:]
    }

    private let hub: Mutex<Hub>
    private let hls: HLSRendition
    /// The transcoded renditions, highest first (see ``setRenditions(_:)``).
    private let ladder = Mutex<[TranscodedRendition]>([])
    private let startedAt: Date
    private let logger: Logger
    private let cueTaps = Mutex(CueTaps())

    struct CueTaps: Sendable {
        /// The latest cues added, oldest first (a relay that joins late gets them first).
        var recent: [MediaCue] = []
        var taps: [Int: @Sendable (MediaCue) -> Void] = [:]
        var next = 0
        /// Relayed cues that came before the relayed stream started.
        var waiting: [MediaCue] = []
        static let kept = 64
    }

    public init(channel: String, configuration: HLSConfiguration, startedAt: Date, relayedFrom: String? = nil, logger: Logger) {
        self.channel = channel
        self.configuration = configuration
        self.origin = Mutex(relayedFrom)
        self.logger = logger
        self.startedAt = startedAt
        let hls = HLSRendition(configuration: configuration, startedAt: startedAt)
        self.hls = hls
        var hub = Hub(core: BroadcastCore(startedAt: startedAt, jumpThreshold: configuration.timestampJumpThreshold))
        let (id, _) = hub.core.subscribe(policy: hls.overflowPolicy)
        hub.subscribers[id] = hls
        self.hub = Mutex(hub)
    }

    // MARK: Ingest

    /// Feeds one event from the publisher.
    public func ingest(_ event: IngestEvent, now: Date) {
        hub.withLock { hub in
            let actions = hub.core.ingest(event, now: now)
            if !actions.isEmpty { perform(actions, in: &hub) }
        }
    }

    /// Feeds one delivery of the origin's broadcast to this relayed one (``relayedFrom``): the codecs and clock as the
    /// origin has them, frames on its timeline, its interruptions and its end.
    public func relay(_ delivery: BroadcastDelivery, now: Date) {
        // Taken over by a publisher here: what the old origin still sends is not this broadcast's any more.
        guard relayedFrom != nil else { return }
        switch delivery {
        case let .configure(video, audio, clock):
            hub.withLock { $0.core.relayConfigure(video: video, audio: audio, clock: clock) }
        case let .frame(frame, afterJump):
            hub.withLock { hub in
                let actions = hub.core.relayFrame(frame, afterJump: afterJump, now: now)
                if !actions.isEmpty { perform(actions, in: &hub) }
            }
            let waiting = cueTaps.withLock { state -> [MediaCue] in
                guard !state.waiting.isEmpty, streamClock != nil else { return [] }
                defer { state.waiting.removeAll() }
                return state.waiting
            }
            for cue in waiting { addCue(cue) }
        case .interrupt:
            _ = publisherDisconnected()
        case .end:
            end()
        }
    }

    /// A cue of the origin's: added now, or (before the first relayed keyframe, when there is nothing to put it in
    /// yet) as soon as the relayed stream has started.
    public func relayCue(_ cue: MediaCue) {
        if addCue(cue) { return }
        cueTaps.withLock { state in
            if !hasEnded, streamClock == nil, state.waiting.count < CueTaps.kept { state.waiting.append(cue) }
        }
    }

    /// A publisher here continues this relayed broadcast (its origin died or gave the channel up while the broadcast
    /// waited within the grace period): from now on it is this node's own, on the same stream clock, its timeline going
    /// on after the last relayed frame, after a discontinuity. False (nothing changes) when it is not relayed or has
    /// ended.
    func takeOver() -> Bool {
        guard !hasEnded, origin.withLock({ origin in defer { origin = nil }; return origin != nil }) else { return false }
        if isLive { _ = publisherDisconnected() }
        hub.withLock { $0.core.takeOverRelay() }
        return true
    }

    /// The publisher's connection closed. Returns the publisher generation, which `end(ifGeneration:)` checks so a
    /// grace timer never ends a broadcast whose publisher came back.
    public func publisherDisconnected() -> Int {
        let generation = hub.withLock { hub in
            let (generation, actions) = hub.core.publisherLost()
            perform(actions, in: &hub)
            return generation
        }
        for rendition in renditions { rendition.interrupt(restarted: false) }
        return generation
    }

    /// A publisher took the channel again within the grace period: the playlist goes on after a discontinuity.
    public func publisherReconnected() {
        hub.withLock { $0.core.publisherBack() }
    }

    /// Ends the broadcast (`EXT-X-ENDLIST`) unless a publisher came back since `generation`.
    @discardableResult
    public func end(ifGeneration generation: Int? = nil) -> Bool {
        let ended = hub.withLock { hub in
            guard let actions = hub.core.end(ifGeneration: generation) else { return false }
            perform(actions, in: &hub)
            return true
        }
        if ended { for rendition in renditions { rendition.end() } }
        return ended
    }

    // MARK: Subscribers

    /// Attaches a consumer. It hears the codecs at once if the stream has started, and frames from the next keyframe.
    @discardableResult
    public func attach(_ subscriber: any BroadcastSubscriber) -> BroadcastSubscriberID {
        hub.withLock { hub in
            let (id, actions) = hub.core.subscribe(policy: subscriber.overflowPolicy)
            hub.subscribers[id] = subscriber
            perform(actions, in: &hub)
            return id
        }
    }

    /// Detaches a consumer; it hears ``BroadcastDetachReason/left``.
    public func detach(_ id: BroadcastSubscriberID) {
        hub.withLock { hub in
            let actions = hub.core.unsubscribe(id)
            perform(actions, in: &hub)
        }
    }

    /// Performs the core's actions, under the hub lock so every subscriber hears deliveries in the core's order. A
    /// `.full` receipt goes back into the core, whose answer is performed in turn.
    private func perform(_ actions: [BroadcastCore.Action], in hub: inout Hub) {
        for action in actions {
            switch action {
            case let .deliver(delivery, to: id):
                guard let subscriber = hub.subscribers[id] else { continue }
                if subscriber.receive(delivery) == .full {
                    perform(hub.core.overflowed(id), in: &hub)
                }
            case let .detach(id, reason):
                hub.subscribers.removeValue(forKey: id)?.detached(reason)
            case let .log(line):
                log(line)
            }
        }
    }

    private func log(_ line: BroadcastCore.Log) {
        switch line {
        case let .badVideoConfiguration(error):
            logger.warning("ignoring a bad AVC sequence header", metadata: ["channel": "\(channel)", "error": "\(error)"])
        case let .badAudioConfiguration(error):
            logger.warning("ignoring a bad AAC sequence header", metadata: ["channel": "\(channel)", "error": "\(error)"])
        case .timestampJump:
            logger.warning("publisher timestamps jumped; a new segment follows a discontinuity", metadata: ["channel": "\(channel)"])
        }
    }

    /// Subscribes to the live fragments: the init segment and every chunk since the last keyframe first, then each
    /// chunk as it is packaged. The stream ends when the broadcast ends or the subscriber falls `bufferLimit`
    /// fragments behind (it is dropped; nobody else waits).
    public func subscribeLive(bufferLimit: Int = 512) -> AsyncStream<LiveFragment> {
        hls.subscribeLive(bufferLimit: bufferLimit)
    }

    /// The same for one rendition (nil: the source); nil when the broadcast has no such rendition.
    public func subscribeLive(rendition: String?, bufferLimit: Int = 512) -> AsyncStream<LiveFragment>? {
        packaged(rendition)?.subscribeLive(bufferLimit: bufferLimit)
    }

    // MARK: Renditions

    /// Makes the transcoded renditions these presets (highest first): a rendition already there with the same name
    /// stays (its playlist goes on), one no longer listed ends. Returns them in ladder order.
    @discardableResult
    public func setRenditions(_ presets: [RenditionPreset]) -> [TranscodedRendition] {
        let (kept, removed) = ladder.withLock { ladder -> ([TranscodedRendition], [TranscodedRendition]) in
            let kept = presets.map { preset in
                ladder.first { $0.preset.name == preset.name }
                    ?? TranscodedRendition(preset: preset, source: hls, configuration: configuration, startedAt: startedAt)
            }
            let removed = ladder.filter { old in !kept.contains { $0 === old } }
            ladder = kept
            return (kept, removed)
        }
        for rendition in removed { rendition.end() }
        if hasEnded { for rendition in kept { rendition.end() } }
        return kept
    }

    /// The transcoded renditions, highest first.
    public var renditions: [TranscodedRendition] { ladder.withLock { $0 } }

    /// The packaged rendition by name: the source for nil, a transcoded one by its preset's name.
    func packaged(_ rendition: String?) -> HLSRendition? {
        guard let rendition else { return hls }
        return ladder.withLock { $0.first { $0.preset.name == rendition }?.hls }
    }

    public func hasRendition(_ name: String?) -> Bool { packaged(name) != nil }

    // MARK: Reading

    public var isLive: Bool { hub.withLock { $0.core.publisherConnected } }
    public var hasEnded: Bool { hub.withLock { $0.core.ended } }
    public var stats: IngestStats { hub.withLock { $0.core.stats } }
    public var streamClock: StreamClock? { hls.read(\.clock) }
    /// Whether a WebSocket (or WebRTC) viewer holds the broadcast: subscribers besides the HLS packager, or live
    /// fragment streams of the source.
    public var hasAttachedViewers: Bool {
        hls.hasLiveViewers || hub.withLock { $0.core.subscriberCount > 1 }
    }

    /// What the multivariant playlist says about one rendition (`name` nil: the source).
    public struct RenditionInfo: Sendable {
        public var name: String?
        public var averageBandwidth: Int
        public var codecs: String
        public var width: Int
        public var height: Int
        public var frameRate: Double?
        public var bandwidth: Int
        public var hasVideo: Bool
    }

    public var rendition: RenditionInfo? {
        Self.info(name: nil, muxer: hls.read(\.muxer) ?? nil, stats: stats, nominal: nil)
    }

    /// Every rendition that has media: the source first, then the transcoded ones highest first.
    public var variants: [RenditionInfo] {
        let source = rendition
        let frameRate = source?.frameRate
        let transcoded = renditions.compactMap { rendition -> RenditionInfo? in
            var info = Self.info(name: rendition.preset.name, muxer: rendition.hls.read(\.muxer) ?? nil, stats: rendition.stats,
                                 nominal: rendition.preset.videoBitrate + rendition.preset.audioBitrate)
            // The transcoder passes the source's frame timing through.
            if info?.frameRate == nil { info?.frameRate = frameRate }
            return info
        }
        return (source.map { [$0] } ?? []) + transcoded
    }

    private static func info(name: String?, muxer: CMAFMuxer?, stats: IngestStats, nominal: Int?) -> RenditionInfo? {
        guard let muxer else { return nil }
        let frameRate = stats.frameRate ?? (try? muxer.video?.parsedSPS().frameRate) ?? nil
        // Before a measurement, a transcoded rendition declares what its encoder aims at.
        let measured = stats.bitrate ?? nominal ?? 100_000
        return RenditionInfo(
            name: name, averageBandwidth: max(measured, 50_000),
            codecs: muxer.codecs, width: muxer.width, height: muxer.height, frameRate: frameRate,
            bandwidth: max(stats.peakBitrate, nominal ?? 0, measured, 100_000), hasVideo: muxer.video != nil
        )
    }

    /// The init segment and the latest part that starts with a keyframe: enough for a decoder to show a picture
    /// (thumbnails). Nil before the first keyframe or for audio-only streams.
    public var latestKeyframe: (initSegment: ByteBuffer, part: ByteBuffer)? {
        hls.read { packager -> (initSegment: ByteBuffer, part: ByteBuffer)? in
            guard let muxer = packager.muxer, muxer.video != nil else { return nil }
            var candidates: [Segment] = packager.segments.reversed()
            if let open = packager.openSegment { candidates.insert(open, at: 0) }
            for segment in candidates {
                // The last part of the segment that starts with a keyframe (a segment cut for length may start without).
                if let part = segment.parts.last(where: { $0.independent && $0.bytes.readableBytes > 0 }),
                   let initSegment = packager.initSegments[segment.initVersion] {
                    return (initSegment, part.bytes)
                }
            }
            return nil
        } ?? nil
    }

    public func initSegment(version: Int, rendition: String? = nil) -> ByteBuffer? {
        packaged(rendition)?.read { $0.initSegments[version] } ?? nil
    }

    public func segment(msn: Int, rendition: String? = nil) -> [ByteBuffer]? {
        packaged(rendition)?.read { $0.segmentParts(msn: msn) } ?? nil
    }

    /// A part, whole if complete, streamed if it is the one being written.
    public func part(msn: Int, index: Int, rendition: String? = nil) -> PartResponse {
        packaged(rendition)?.part(msn: msn, index: index) ?? .notFound
    }

    /// The media playlist, after waiting (blocking playlist reload, RFC 8216bis §6.2.5.2) until it holds `msn`/`part`.
    /// Each playlist carries an `EXT-X-RENDITION-REPORT` for every other rendition (RFC 8216bis §4.4.5.4).
    public func playlist(_ request: PlaylistRequest, rendition: String? = nil) async throws(PlaylistError) -> String {
        guard let hls = packaged(rendition) else { throw .notReady }
        if let msn = request.msn {
            // Never longer than three configured target durations (RFC 8216bis §6.2.5.2 asks a client to wait that long).
            switch await hls.wait(msn: msn, part: request.part, timeout: Double(3 * configuration.targetDuration)) {
            case .ready: break
            case .tooFarAhead: throw .tooFarAhead
            case .timedOut: throw .timedOut
            case .notReady: throw .notReady
            }
        }
        let reports = renditionReports(from: rendition)
        guard let text = hls.read({ $0.renderMediaPlaylist(skip: request.skip, reports: reports) }) else { throw .notReady }
        return text
    }

    /// Where every other rendition stands, with URIs relative to `rendition`'s playlist (the source's is
    /// `media.m3u8`, a transcoded one's `NAME/media.m3u8`).
    private func renditionReports(from rendition: String?) -> [RenditionReport] {
        let prefix = rendition == nil ? "" : "../"
        var reports: [RenditionReport] = []
        if rendition != nil, let report = hls.read({ $0.report(uri: prefix + "media.m3u8") }) { reports.append(report) }
        for other in renditions where other.preset.name != rendition {
            if let report = other.hls.read({ $0.report(uri: "\(prefix)\(other.preset.name)/media.m3u8") }) { reports.append(report) }
        }
        // A rendition with no complete part yet has nothing to report.
        return reports.filter { $0.lastMSN != nil }
    }
}

// MARK: Cues

extension Broadcast {
    /// The media time and program date of the moment being ingested at `now`; nil while the broadcast has no clock
    /// yet (before its first frame). The media time is the stream clock's at `now`, the line every frame is placed
    /// on, so it keeps counting across a publisher reconnect and matches `EXT-X-PROGRAM-DATE-TIME`.
    public func cueStamp(at now: Date) -> (mediaTime: Int64, programDate: Date)? {
        guard let clock = streamClock else { return nil }
        let mediaTime = clock.mediaTime(at: now)
        return (mediaTime, clock.wallClock(atMediaTime: mediaTime))
    }

    /// Adds a cue to the timeline: it goes into every media playlist whose window covers its date (EXT-X-DATERANGE),
    /// and as an `emsg` box in front of the next fragment produced (the same bytes feed LL-HLS parts and the WebSocket
    /// subscribers). Returns false (and drops it) when there is no clock, the broadcast has ended, or the cue is
    /// invalid or oversized (see ``MediaCue``) or reuses the ID of a cue still in the playlists.
    @discardableResult
    public func addCue(_ cue: MediaCue) -> Bool {
        guard hls.addCue(cue) else { return false }
        let taps = cueTaps.withLock { state in
            state.recent.append(cue)
            if state.recent.count > CueTaps.kept { state.recent.removeFirst() }
            return Array(state.taps.values)
        }
        for tap in taps { tap(cue) }
        return true
    }

    /// Calls `tap` with every cue added from now on (a relay to another node); returns the latest cues added before,
    /// oldest first, and the handle ``untapCues(_:)`` takes.
    public func tapCues(_ tap: @escaping @Sendable (MediaCue) -> Void) -> (recent: [MediaCue], handle: Int) {
        cueTaps.withLock { state in
            let handle = state.next
            state.next += 1
            state.taps[handle] = tap
            return (state.recent, handle)
        }
    }

    public func untapCues(_ handle: Int) {
        _ = cueTaps.withLock { $0.taps.removeValue(forKey: handle) }
    }
}
