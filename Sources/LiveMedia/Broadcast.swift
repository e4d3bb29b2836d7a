import Foundation
import Logging
import MediaFormats
import NIOCore
import Synchronization

/// One live session of a channel: the codecs, the stream clock, the LL-HLS packager and the readers waiting on it.
///
/// Ingest calls `ingest(_:now:)` from the publisher's event loop; HTTP handlers read from any thread. All state sits
/// behind one mutex that is held only for in-memory work: continuations are resumed and streams fed after it is
/// released.
public final class Broadcast: Sendable {
    public let channel: String
    public let configuration: HLSConfiguration

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

    enum WaitOutcome: Sendable { case ready, tooFarAhead, timedOut, notReady }

    struct Waiter {
        var msn: Int
        var part: Int?
        var continuation: CheckedContinuation<WaitOutcome, Never>
    }

    struct Subscriber {
        var msn: Int
        var part: Int
        var continuation: AsyncStream<ByteBuffer>.Continuation
    }

    struct State {
        var packager: HLSPackager?
        var video: AVCDecoderConfiguration?
        var audio: AudioSpecificConfig?
        var codecsChanged = false
        var framesWithoutVideoConfig = 0
        var timeline: MediaTimeline
        var lastJumpLogged: Date?
        var publisherConnected = true
        var publisherGeneration = 0
        var waiters: [Int: Waiter] = [:]
        var nextWaiterID = 0
        var subscribers: [Int: Subscriber] = [:]
        var nextSubscriberID = 0
        var liveSubscribers: [Int: AsyncStream<LiveFragment>.Continuation] = [:]
        var announcedInitVersion = -1
        var stats = IngestStats()
        var metadata: [String: String] = [:]
        var startedAt: Date

        init(startedAt: Date, jumpThreshold: Double) {
            self.startedAt = startedAt
            self.timeline = MediaTimeline(jumpThreshold: jumpThreshold)
        }
    }

    private let state: Mutex<State>
    private let logger: Logger

    public init(channel: String, configuration: HLSConfiguration, startedAt: Date, logger: Logger) {
        self.channel = channel
        self.configuration = configuration
        self.state = Mutex(State(startedAt: startedAt, jumpThreshold: configuration.timestampJumpThreshold))
        self.logger = logger
    }

    // MARK: Ingest

    /// Feeds one event from the publisher.
    public func ingest(_ event: IngestEvent, now: Date) {
        var resumes: [CheckedContinuation<WaitOutcome, Never>] = []
        var feeds: [(AsyncStream<ByteBuffer>.Continuation, ByteBuffer)] = []
        var finishes: [AsyncStream<ByteBuffer>.Continuation] = []
        var slowLive: [AsyncStream<LiveFragment>.Continuation] = []
        var jumpToLog = false
        state.withLock { state in
            switch event {
            case let .videoConfiguration(record):
                do {
                    let config = try AVCDecoderConfiguration(record: record)
                    if config != state.video { state.codecsChanged = true }
                    state.video = config
                } catch {
                    logger.warning("ignoring a bad AVC sequence header", metadata: ["channel": "\(channel)", "error": "\(error)"])
                }
            case let .audioConfiguration(bytes):
                do {
                    let config = try AudioSpecificConfig(bytes: bytes)
                    if config != state.audio { state.codecsChanged = true }
                    state.audio = config
                } catch {
                    logger.warning("ignoring a bad AAC sequence header", metadata: ["channel": "\(channel)", "error": "\(error)"])
                }
            case let .metadata(values):
                state.metadata = values
            case let .frame(frame):
                state.stats.record(frame, at: now)
                var events: [PackagerEvent] = []
                Self.package(frame, now: now, state: &state, configuration: configuration, events: &events, jumpToLog: &jumpToLog)
                slowLive = Self.feedLiveSubscribers(events, state: &state)
                Self.dispatch(events, state: &state, resumes: &resumes, feeds: &feeds, finishes: &finishes)
            }
        }
        for (continuation, bytes) in feeds { continuation.yield(bytes) }
        for continuation in finishes { continuation.finish() }
        for continuation in slowLive { continuation.finish() }
        for continuation in resumes { continuation.resume(returning: .ready) }
        if jumpToLog {
            // At most one line every ten seconds, however often a publisher jumps.
            logger.warning("publisher timestamps jumped; a new segment follows a discontinuity", metadata: ["channel": "\(channel)"])
        }
    }

    private static func package(
        _ frame: MediaFrame, now: Date, state: inout State, configuration: HLSConfiguration, events: inout [PackagerEvent],
        jumpToLog: inout Bool
    ) {
        if frame.track == .audio, state.video == nil { state.framesWithoutVideoConfig += 1 }
        // Codecs take effect at a video keyframe, or for an audio-only stream once it is clear no video is coming.
        let canConfigure = (frame.track == .video && frame.isKeyframe && state.video != nil)
            || (state.video == nil && state.audio != nil && state.framesWithoutVideoConfig > 50)
        if state.codecsChanged, canConfigure {
            state.codecsChanged = false
            if state.packager == nil {
                let clock = StreamClock(anchorMediaTime: 0, anchorWallClock: now)
                state.packager = HLSPackager(configuration: configuration, clock: clock)
            }
            // Other codecs close the open segment: its readers must hear that its last part completed.
            events += state.packager?.configure(CMAFMuxer(video: state.video, audio: state.audio)) ?? []
        }
        guard var packager = state.packager, packager.muxer != nil else { return }
        state.packager = nil
        defer { state.packager = packager }

        let placement = state.timeline.place(frame, now: packager.clock.mediaTime(at: now),
                                             frameDuration: packager.muxer?.estimatedFrameDuration ?? 3000)
        guard case let .placed(mapped, afterJump) = placement else { return }
        if afterJump {
            // The publisher's timestamps jumped: what is open closes, and the next segment follows a discontinuity.
            events += packager.interrupt()
            if state.lastJumpLogged.map({ now.timeIntervalSince($0) >= 10 }) ?? true {
                state.lastJumpLogged = now
                jumpToLog = true
            }
        }
        events += packager.append(mapped)
    }

    /// The sub-second path: every chunk goes to WebSocket subscribers as it is packaged, after a new init segment when
    /// the codecs changed. A subscriber whose queue is full is too slow and is ended (its socket closes).
    /// Returns the subscribers to finish, which the caller must do after releasing the lock (finishing runs their
    /// termination handlers, which take the lock).
    private static func feedLiveSubscribers(_ events: [PackagerEvent], state: inout State) -> [AsyncStream<LiveFragment>.Continuation] {
        guard !state.liveSubscribers.isEmpty, let packager = state.packager else { return [] }
        var fragments: [LiveFragment] = []
        if packager.initVersion != state.announcedInitVersion, let muxer = packager.muxer {
            state.announcedInitVersion = packager.initVersion
            fragments.append(.initSegment(muxer.initSegment, codecs: muxer.codecs))
        }
        for case let .chunk(_, _, bytes) in events { fragments.append(.media(bytes)) }
        guard !fragments.isEmpty else { return [] }
        var slow: [AsyncStream<LiveFragment>.Continuation] = []
        for (id, continuation) in state.liveSubscribers {
            for fragment in fragments {
                if case .dropped = continuation.yield(fragment) {
                    slow.append(continuation)
                    state.liveSubscribers[id] = nil
                    break
                }
            }
        }
        return slow
    }

    /// Subscribes to the live fragments: the init segment and every chunk since the last keyframe first, then each
    /// chunk as it is packaged. The stream ends when the broadcast ends or the subscriber falls behind.
    public func subscribeLive(bufferLimit: Int = 512) -> AsyncStream<LiveFragment> {
        let (stream, continuation) = AsyncStream.makeStream(of: LiveFragment.self, bufferingPolicy: .bufferingOldest(bufferLimit))
        let live = state.withLock { state -> Bool in
            guard let packager = state.packager, !packager.ended else { return false }
            if let muxer = packager.muxer {
                continuation.yield(.initSegment(muxer.initSegment, codecs: muxer.codecs))
                state.announcedInitVersion = packager.initVersion
                // From the last keyframe on: the chunks a decoder needs to start.
                for bytes in packager.partsSinceKeyframe where bytes.readableBytes > 0 {
                    continuation.yield(.media(bytes))
                }
            }
            let id = state.nextSubscriberID
            state.nextSubscriberID += 1
            state.liveSubscribers[id] = continuation
            continuation.onTermination = { [weak self] _ in
                self?.state.withLock { _ = $0.liveSubscribers.removeValue(forKey: id) }
            }
            return true
        }
        if !live { continuation.finish() }
        return stream
    }

    private static func dispatch(
        _ events: [PackagerEvent], state: inout State,
        resumes: inout [CheckedContinuation<WaitOutcome, Never>],
        feeds: inout [(AsyncStream<ByteBuffer>.Continuation, ByteBuffer)],
        finishes: inout [AsyncStream<ByteBuffer>.Continuation]
    ) {
        var playlistChanged = false
        for event in events {
            switch event {
            case let .chunk(msn, part, bytes):
                for subscriber in state.subscribers.values where subscriber.msn == msn && subscriber.part == part {
                    feeds.append((subscriber.continuation, bytes))
                }
            case let .partCompleted(msn, part):
                playlistChanged = true
                for (id, subscriber) in state.subscribers where subscriber.msn == msn && subscriber.part == part {
                    finishes.append(subscriber.continuation)
                    state.subscribers[id] = nil
                }
            case .segmentCompleted:
                playlistChanged = true
            }
        }
        guard playlistChanged, let packager = state.packager else { return }
        for (id, waiter) in state.waiters where packager.contains(msn: waiter.msn, part: waiter.part) {
            resumes.append(waiter.continuation)
            state.waiters[id] = nil
        }
    }

    /// The publisher's connection closed. Returns the publisher generation, which `end(ifGeneration:)` checks so a
    /// grace timer never ends a broadcast whose publisher came back.
    public func publisherDisconnected() -> Int {
        var resumes: [CheckedContinuation<WaitOutcome, Never>] = []
        var feeds: [(AsyncStream<ByteBuffer>.Continuation, ByteBuffer)] = []
        var finishes: [AsyncStream<ByteBuffer>.Continuation] = []
        let generation = state.withLock { state in
            state.publisherConnected = false
            let events = state.packager?.interrupt() ?? []
            Self.dispatch(events, state: &state, resumes: &resumes, feeds: &feeds, finishes: &finishes)
            state.timeline.reanchor()
            state.stats.reset()
            return state.publisherGeneration
        }
        for (continuation, bytes) in feeds { continuation.yield(bytes) }
        for continuation in finishes { continuation.finish() }
        for continuation in resumes { continuation.resume(returning: .ready) }
        return generation
    }

    /// A publisher took the channel again within the grace period: the playlist goes on after a discontinuity.
    public func publisherReconnected() {
        state.withLock { state in
            state.publisherConnected = true
            state.publisherGeneration += 1
            state.codecsChanged = true
        }
    }

    /// Ends the broadcast (`EXT-X-ENDLIST`) unless a publisher came back since `generation`.
    @discardableResult
    public func end(ifGeneration generation: Int? = nil) -> Bool {
        var resumes: [CheckedContinuation<WaitOutcome, Never>] = []
        var feeds: [(AsyncStream<ByteBuffer>.Continuation, ByteBuffer)] = []
        var finishes: [AsyncStream<ByteBuffer>.Continuation] = []
        var liveFinishes: [AsyncStream<LiveFragment>.Continuation] = []
        let ended = state.withLock { state -> Bool in
            if let generation, generation != state.publisherGeneration || state.publisherConnected { return false }
            state.publisherConnected = false
            // Ending flushes held audio into the open part: its readers get those last chunks before they finish.
            let events = state.packager?.end() ?? []
            liveFinishes = Self.feedLiveSubscribers(events, state: &state)
            Self.dispatch(events, state: &state, resumes: &resumes, feeds: &feeds, finishes: &finishes)
            if state.packager == nil {
                var empty = HLSPackager(configuration: configuration, clock: StreamClock(anchorMediaTime: 0, anchorWallClock: state.startedAt))
                empty.end()
                state.packager = empty
            }
            resumes += state.waiters.values.map(\.continuation)
            state.waiters.removeAll()
            finishes += state.subscribers.values.map(\.continuation)
            state.subscribers.removeAll()
            liveFinishes += state.liveSubscribers.values
            state.liveSubscribers.removeAll()
            return true
        }
        for (continuation, bytes) in feeds { continuation.yield(bytes) }
        for continuation in finishes { continuation.finish() }
        for continuation in liveFinishes { continuation.finish() }
        for continuation in resumes { continuation.resume(returning: .ready) }
        return ended
    }

    // MARK: Reading

    public var isLive: Bool { state.withLock { $0.publisherConnected } }
    public var hasEnded: Bool { state.withLock { $0.packager?.ended ?? false } }
    public var stats: IngestStats { state.withLock { $0.stats } }
    public var streamClock: StreamClock? { state.withLock { $0.packager?.clock } }

    /// What the multivariant playlist says about the one rendition we have.
    public struct RenditionInfo: Sendable {
        public var codecs: String
        public var width: Int
        public var height: Int
        public var frameRate: Double?
        public var bandwidth: Int
        public var hasVideo: Bool
    }

    public var rendition: RenditionInfo? {
        state.withLock { state in
            guard let muxer = state.packager?.muxer else { return nil }
            let frameRate = state.stats.frameRate ?? (try? muxer.video?.parsedSPS().frameRate) ?? nil
            return RenditionInfo(
                codecs: muxer.codecs, width: muxer.width, height: muxer.height, frameRate: frameRate,
                bandwidth: max(state.stats.peakBitrate, 100_000), hasVideo: muxer.video != nil
            )
        }
    }

    /// The init segment and the latest part that starts with a keyframe: enough for a decoder to show a picture
    /// (thumbnails). Nil before the first keyframe or for audio-only streams.
    public var latestKeyframe: (initSegment: ByteBuffer, part: ByteBuffer)? {
        state.withLock { state in
            guard let packager = state.packager, let muxer = packager.muxer, muxer.video != nil else { return nil }
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
        }
    }

    public func initSegment(version: Int) -> ByteBuffer? {
        state.withLock { $0.packager?.initSegments[version] }
    }

    public func segment(msn: Int) -> [ByteBuffer]? {
        state.withLock { $0.packager?.segmentParts(msn: msn) }
    }

    /// A part, whole if complete, streamed if it is the one being written.
    public func part(msn: Int, index: Int) -> PartResponse {
        state.withLock { state in
            guard let packager = state.packager else { return .notFound }
            switch packager.part(msn: msn, index: index) {
            case let .complete(bytes):
                return .complete(bytes)
            case .notFound:
                return .notFound
            case let .open(bytes):
                let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
                let id = state.nextSubscriberID
                state.nextSubscriberID += 1
                state.subscribers[id] = Subscriber(msn: msn, part: index, continuation: continuation)
                // Yielded under the lock: an ingest on another thread may feed this subscriber its next chunk, or
                // finish it, as soon as the lock is released, and the bytes so far must come before either.
                if bytes.readableBytes > 0 { continuation.yield(bytes) }
                return .streaming(stream)
            }
        }
    }

    /// The media playlist, after waiting (blocking playlist reload, RFC 8216bis §6.2.5.2) until it holds `msn`/`part`.
    public func playlist(_ request: PlaylistRequest) async throws(PlaylistError) -> String {
        if let msn = request.msn {
            // Never longer than three configured target durations (RFC 8216bis §6.2.5.2 asks a client to wait that long).
            let timeout = Double(3 * configuration.targetDuration)
            let outcome: WaitOutcome = await withCheckedContinuation { continuation in
                let immediate: WaitOutcome? = state.withLock { state in
                    guard let packager = state.packager else { return .notReady }
                    if msn > packager.liveEdgeSequenceNumber + 2 { return .tooFarAhead }
                    if packager.contains(msn: msn, part: request.part) { return .ready }
                    let id = state.nextWaiterID
                    state.nextWaiterID += 1
                    state.waiters[id] = Waiter(msn: msn, part: request.part, continuation: continuation)
                    Task { [weak self] in
                        try? await Task.sleep(for: .seconds(timeout))
                        self?.expireWaiter(id)
                    }
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
            switch outcome {
            case .ready: break
            case .tooFarAhead: throw .tooFarAhead
            case .timedOut: throw .timedOut
            case .notReady: throw .notReady
            }
        }
        guard let text = state.withLock({ $0.packager?.renderMediaPlaylist(skip: request.skip) }) else { throw .notReady }
        return text
    }

    private func expireWaiter(_ id: Int) {
        let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
        waiter?.continuation.resume(returning: .timedOut)
    }
}

// MARK: Cues

extension Broadcast {
    /// The media time and program date of the moment being ingested at `now`; nil while the broadcast has no clock
    /// yet (before its first frame). The media time is the stream clock's at `now`, the line every frame is placed
    /// on, so it keeps counting across a publisher reconnect and matches `EXT-X-PROGRAM-DATE-TIME`.
    public func cueStamp(at now: Date) -> (mediaTime: Int64, programDate: Date)? {
        guard let clock = state.withLock({ $0.packager?.clock }) else { return nil }
        let mediaTime = clock.mediaTime(at: now)
        return (mediaTime, clock.wallClock(atMediaTime: mediaTime))
    }

    /// Adds a cue to the timeline: it goes into every media playlist whose window covers its date (EXT-X-DATERANGE),
    /// and as an `emsg` box in front of the next fragment produced (the same bytes feed LL-HLS parts and the WebSocket
    /// subscribers). Returns false (and drops it) when there is no clock, the broadcast has ended, or the cue is
    /// invalid or oversized (see ``MediaCue``) or reuses the ID of a cue still in the playlists.
    @discardableResult
    public func addCue(_ cue: MediaCue) -> Bool {
        state.withLock { $0.packager?.addCue(cue) ?? false }
    }
}

/// What a sub-second (WebSocket) viewer receives.
public enum LiveFragment: Sendable {
    /// An init segment, with the RFC 6381 codecs string MSE needs for `addSourceBuffer`.
    case initSegment(ByteBuffer, codecs: String)
    /// One CMAF chunk (`moof`+`mdat`).
    case media(ByteBuffer)
}
