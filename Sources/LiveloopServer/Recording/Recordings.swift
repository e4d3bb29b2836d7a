import Foundation
import Interaction
import LiveMedia
import Logging
import NIOPosix
import ServiceLifecycle
import Storage
import Synchronization

/// Records the broadcasts of channels whose `record` is on (docs/recording.md), with their interaction timelines.
///
/// - A broadcast that starts on such a channel gets a ``RecordingSubscriber`` at once (before its first keyframe),
///   and so does a live channel whose `record` is switched on through the API; switching it off finishes the
///   recording. Each recording is a folder under `DATA/recordings/CHANNEL/ID`, `ID` being the broadcast's analytics id.
/// - The room's committed broadcasts that everyone sees are appended to the recording's timeline with their media
///   time (``roomCommitted(channel:update:)``), and the cues written into the live video to its cue list.
/// - A finished recording is announced with `recording.ready`; one whose write failed (a full disk) stops with one
///   error line and `recording.failed`, and the live stream goes on.
/// - As a service: at start, recordings a crash left `recording` become `interrupted` (playable to their last
///   segment) and are announced; recordings older than the retention are removed then and every hour; at shutdown it
///   waits (a few seconds at most) for the recorders of the broadcasts the ingest ended to finish.
public final class Recordings: Service, Sendable {
    struct Active: Sendable {
        var info: RecordingInfo
        var subscriber: RecordingSubscriber
        /// Nil until the attach returns.
        var subscriberID: BroadcastSubscriberID?
        var broadcast: Broadcast
    }

    struct State: Sendable {
        var active: [String: Active] = [:]
        var liveSince: [String: Date] = [:]
        var idle: [CheckedContinuation<Void, Never>] = []
        /// Recordings found interrupted at start, announced once the webhooks are loaded.
        var recovered: [RecordingInfo] = []
    }

    public let disk: RecordingStore
    let store: any Store
    private let video: ChannelVideo
    let registry: BroadcastRegistry
    let webhooks: WebhookDispatcher
    let logger: Logger
    /// Recordings are removed this long after they ended; nil keeps them.
    let retention: Duration?
    let segmentTarget: Double
    let limits: RecordingSubscriber.Limits
    private let state = Mutex(State())

    /// How long shutdown waits for the recorders to finish.
    static let shutdownWait: Duration = .seconds(10)
    static let pruneInterval: Duration = .seconds(3600)
    /// The room messages a replay shows; counts, standings and replies are left out.
    static let replayedKinds: Set<ServerMessage.Kind> = [
        .chat, .chatDeleted, .poll, .results, .quiz, .leaderboard, .offer, .offerHidden, .gift, .supporters,
        .question, .questionVotes,
    ]

    init(configuration: ServerConfiguration, store: any Store, registry: BroadcastRegistry, video: ChannelVideo,
         webhooks: WebhookDispatcher, logger: Logger) {
        disk = RecordingStore(dataDirectory: configuration.dataDirectory)
        self.store = store
        self.video = video
        self.registry = registry
        self.webhooks = webhooks
        self.logger = logger
        retention = configuration.recordingRetentionDays > 0 ? .seconds(configuration.recordingRetentionDays * 86_400) : nil
        segmentTarget = max(2, configuration.hls.segmentTarget)
        limits = configuration.recordingLimits
        // Before any ingest starts: every recording still marked `recording` was left by a stopped server.
        let recovered = recoverInterrupted()
        state.withLock { $0.recovered = recovered }
        registry.observe { [weak self] in self?.broadcastChanged($0) }
        video.observe { [weak self] channel, settings in self?.settingsChanged(channel: channel, record: settings.record) }
    }

    // MARK: Starting and stopping

    private func broadcastChanged(_ lifecycle: BroadcastRegistry.Lifecycle) {
        switch lifecycle {
        case let .started(channel, at):
            state.withLock { $0.liveSince[channel] = at }
            // Read before the publish started (`ChannelVideo.prepare`): the recorder must be attached before the first
            // keyframe, so this asks no database.
            video.whenKnown(channel: channel) { [weak self] settings in
                if settings.record { self?.start(channel: channel) }
            }
        case let .ended(channel, _):
            // The recorder heard `.end` from the broadcast itself and finishes on its own queue.
            state.withLock { _ = $0.liveSince.removeValue(forKey: channel) }
        }
    }

    private func settingsChanged(channel: String, record: Bool) {
        if record {
            start(channel: channel)
        } else {
            state.withLock { $0.active[channel] }?.subscriber.stop()
        }
    }

    /// Starts recording `channel`'s live broadcast, unless it is not live or is recorded already.
    private func start(channel: String) {
        // A relayed broadcast is recorded on its origin node.
        guard let broadcast = registry.broadcast(channel), !broadcast.hasEnded, broadcast.relayedFrom == nil,
              let startedAt = state.withLock({ $0.active[channel] == nil ? $0.liveSince[channel] : nil }) else { return }
        let info: RecordingInfo
        do {
            info = try disk.create(channel: channel, broadcastID: LiveBroadcasts.makeID(startedAt: startedAt), startedAt: Date())
        } catch {
            logger.error("could not start a recording", metadata: ["channel": "\(channel)", "error": "\(error)"])
            return
        }
        let id = info.id
        let subscriber = RecordingSubscriber(
            folder: disk.folder(channel: channel, id: id), segmentTarget: segmentTarget, limits: limits, label: "\(channel).\(id)"
        ) { [weak self] event in self?.handle(event, channel: channel, id: id) }
        let claimed = state.withLock { state -> Bool in
            guard state.active[channel] == nil else { return false }
            state.active[channel] = Active(info: info, subscriber: subscriber, subscriberID: nil, broadcast: broadcast)
            return true
        }
        guard claimed else {
            disk.delete(channel: channel, id: id)
            return
        }
        let subscriberID = broadcast.attach(subscriber)
        state.withLock { state in
            if state.active[channel]?.info.id == id { state.active[channel]?.subscriberID = subscriberID }
        }
        logger.info("recording", metadata: ["channel": "\(channel)", "recording": "\(id)"])
    }

    /// The recorder's events, on its writer queue.
    private func handle(_ event: RecordingSubscriber.Event, channel: String, id: String) {
        switch event {
        case let .finished(summary):
            guard let active = finish(channel: channel, id: id) else { return }
            var info = active.info
            info.state = .complete
            apply(summary, to: &info)
            try? disk.save(info)
            logger.info("recording finished", metadata: ["channel": "\(channel)", "recording": "\(id)",
                                                         "seconds": "\(info.durationSeconds)", "bytes": "\(info.bytes)"])
            webhooks.recordingReady(channel: channel, ready(info))
        case let .failed(error, summary):
            guard let active = finish(channel: channel, id: id) else { return }
            var info = active.info
            info.state = .failed
            info.error = error.description
            apply(summary, to: &info)
            // Over the file's own blocks: a full disk has no room for a new one. Should even that fail, the list shows
            // the recording `interrupted` after a restart.
            try? disk.save(info, inPlace: true)
            logger.error("recording stopped: \(error); the live stream goes on",
                         metadata: ["channel": "\(channel)", "recording": "\(id)"])
            webhooks.emit(WebhookEvent(.recordingFailed, channel: channel, data: WebhookPayload.RecordingFailed(
                recordingID: id, startedAt: info.startedAt, failedAt: summary.endedAt, error: error.description,
                durationSeconds: info.durationSeconds, bytes: Int64(info.bytes), url: Self.playlistPath(channel: channel, id: id))))
        case .fellBehind:
            logger.warning("the recorder fell behind (disk too slow): media skipped to the next keyframe",
                           metadata: ["channel": "\(channel)", "recording": "\(id)"])
        case .timelineFull:
            logger.warning("the recording's interaction timeline is full; later events are not kept",
                           metadata: ["channel": "\(channel)", "recording": "\(id)"])
        }
    }

    /// Forgets the active recorder `id` and detaches it from its broadcast (which goes on).
    private func finish(channel: String, id: String) -> Active? {
        let (active, wake) = state.withLock { state -> (Active?, [CheckedContinuation<Void, Never>]) in
            guard let active = state.active[channel], active.info.id == id else { return (nil, []) }
            state.active[channel] = nil
            var wake: [CheckedContinuation<Void, Never>] = []
            if state.active.isEmpty { swap(&wake, &state.idle) }
            return (active, wake)
        }
        if let id = active?.subscriberID { active?.broadcast.detach(id) }
        for continuation in wake { continuation.resume() }
        return active
    }

    private func apply(_ summary: RecordingSummary, to info: inout RecordingInfo) {
        info.endedAt = summary.endedAt
        info.durationSeconds = (summary.duration * 1000).rounded() / 1000
        info.bytes = summary.bytes
        info.segments = summary.segments
        info.mediaStart = summary.mediaStart
    }

    private func ready(_ info: RecordingInfo) -> WebhookPayload.RecordingReady {
        WebhookPayload.RecordingReady(recordingID: info.id, startedAt: info.startedAt, endedAt: info.endedAt ?? info.startedAt,
                                      durationSeconds: info.durationSeconds, bytes: Int64(info.bytes),
                                      url: Self.playlistPath(channel: info.channel, id: info.id))
    }

    public static func playlistPath(channel: String, id: String) -> String { "/vod/\(channel)/\(id)/index.m3u8" }

    // MARK: The timeline

    /// A committed room update: what everyone saw of it goes into the channel's recording, at the media time of its
    /// cue (host actions) or of now (chat and the rest). Runs on the room's pipeline: it encodes and queues, no more.
    func roomCommitted(channel: String, update: RoomUpdate) {
        guard let active = state.withLock({ $0.active[channel] }) else { return }
        var now: Double?
        for broadcast in update.broadcasts where broadcast.audience == .everyone && Self.replayedKinds.contains(broadcast.message.kind) {
            let envelope = broadcast.envelope
            guard let mediaTime = envelope.cue?.mediaTime ?? now ?? active.broadcast.cueStamp(at: Date()).map({
                Double($0.mediaTime) / Double(StreamClock.timescale)
            }) else { continue }
            if envelope.cue == nil { now = mediaTime }
            guard let message = try? envelope.jsonData() else { continue }
            var line = Data(#"{"t":"#.utf8)
            line.append(Data(String(format: "%.3f", mediaTime).utf8))
            line.append(Data(#","m":"#.utf8))
            line.append(message)
            line.append(UInt8(ascii: "}"))
            active.subscriber.appendTimeline(line)
        }
    }

    /// A cue written into `channel`'s live video: kept for the recording's VOD playlist.
    func cue(channel: String, _ cue: RecordedCue) {
        state.withLock { $0.active[channel] }?.subscriber.appendCue(cue)
    }

    /// The recording being written for `channel`, if any.
    public func activeID(channel: String) -> String? {
        state.withLock { $0.active[channel]?.info.id }
    }

    // MARK: Service

    public func run() async throws {
        await webhooks.refreshSubscriptions()
        for info in state.withLock({ state in defer { state.recovered = [] }; return state.recovered }) {
            webhooks.recordingReady(channel: info.channel, ready(info))
        }
        _ = await RecordingStore.offload { [self] in prune(now: Date()) }
        // The hourly sweep ends with the graceful shutdown (the sleep is cancelled then).
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: Self.pruneInterval)
                _ = await RecordingStore.offload { [self] in prune(now: Date()) }
            }
        }
        await finishAll()
    }

    /// Stops every recorder and waits (at most ``shutdownWait``) until they have finished.
    func finishAll() async {
        for active in state.withLock({ Array($0.active.values) }) { active.subscriber.stop() }
        let waiting = Task {
            await withCheckedContinuation { continuation in
                let done = state.withLock { state -> Bool in
                    if state.active.isEmpty { return true }
                    state.idle.append(continuation)
                    return false
                }
                if done { continuation.resume() }
            }
        }
        let timeout = Task {
            try await Task.sleep(for: Self.shutdownWait)
            let left = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                defer { state.idle.removeAll() }
                return state.idle
            }
            for continuation in left { continuation.resume() }
        }
        await waiting.value
        timeout.cancel()
    }

    /// Marks `interrupted` the recordings left `recording` by a server that stopped without finishing them.
    private func recoverInterrupted() -> [RecordingInfo] {
        var recovered: [RecordingInfo] = []
        for found in disk.all() where found.state == .recording {
            var info = found
            info.state = .interrupted
            info.endedAt = info.startedAt.addingTimeInterval(info.durationSeconds)
            try? disk.save(info)
            logger.warning("a recording was interrupted (the server stopped without finishing it); it plays to its last segment",
                           metadata: ["channel": "\(info.channel)", "recording": "\(info.id)", "seconds": "\(info.durationSeconds)"])
            recovered.append(info)
        }
        return recovered
    }

    /// Removes the recordings that ended more than the retention before `now`; returns their ids.
    @discardableResult
    public func prune(now: Date) -> [String] {
        guard let retention else { return [] }
        let cutoff = now.addingTimeInterval(-Double(retention.components.seconds))
        var removed: [String] = []
        for info in disk.all() where info.state != .recording && (info.endedAt ?? info.startedAt) < cutoff {
            if disk.delete(channel: info.channel, id: info.id) {
                removed.append(info.id)
                logger.info("recording removed (retention)", metadata: ["channel": "\(info.channel)", "recording": "\(info.id)"])
            }
        }
        return removed
    }
}

extension WebhookPayload {
    /// `recording.failed`: a write failed (a full disk) and the recording stopped; what was written plays.
    public struct RecordingFailed: Encodable, Sendable {
        public var recordingID: String
        public var startedAt: Date
        public var failedAt: Date
        public var error: String
        public var durationSeconds: Double
        public var bytes: Int64
        public var url: String
    }
}

extension RecordingStore {
    /// Runs blocking file work on NIO's thread pool, off the cooperative pool.
    static func offload<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            NIOThreadPool.singleton.submit { _ in continuation.resume(returning: work()) }
        }
    }
}
