import DequeModule
import Dispatch
import Foundation
import MediaFormats
import NIOCore
import Synchronization

/// A broadcast's recorder: a subscriber that writes the broadcast as fragmented MP4 into a folder, with the index of
/// its segments and the lines of its interaction timeline (see `docs/recording.md`).
///
/// Ingest only queues: `receive` puts the delivery in this recorder's bounded queue and, if no drain is scheduled,
/// schedules one on the recorder's own serial dispatch queue, where the packaging and every disk write happen. Policy
/// when full (``Limits``): `skipToKeyframe`, so a disk that cannot keep up costs the recording a stretch of media (the
/// next segment follows a discontinuity), never ingest or another subscriber its pace.
///
/// The folder holds `media0.mp4` (and `media1.mp4`… after a codec change), `segments.jsonl` (one ``RecordedSegment``
/// per line, appended once its bytes are in the media file), `timeline.jsonl` and `cues.jsonl` (lines handed in by
/// ``appendTimeline(_:)`` and ``appendCue(_:)``). A write that fails stops the recording: it reports
/// ``Event/failed(_:_:)`` once and drops everything after it.
public final class RecordingSubscriber: BroadcastSubscriber {
    public struct Limits: Sendable, Equatable {
        /// Frame bytes queued for the writer.
        public var maxQueuedBytes: Int
        /// Items queued for the writer (frames and timeline lines).
        public var maxQueuedItems: Int
        /// Timeline and cue lines kept per recording; more are dropped (one warning).
        public var maxTimelineLines: Int

        public init(maxQueuedBytes: Int = 32 << 20, maxQueuedItems: Int = 8192, maxTimelineLines: Int = 200_000) {
            self.maxQueuedBytes = maxQueuedBytes
            self.maxQueuedItems = maxQueuedItems
            self.maxTimelineLines = maxTimelineLines
        }
    }

    /// What the recorder tells its owner, from its writer queue.
    public enum Event: Sendable {
        /// The recording is complete: the broadcast ended or ``stop()`` was called.
        case finished(RecordingSummary)
        /// A write failed: nothing more is written. The summary covers what the files hold.
        case failed(RecordingError, RecordingSummary)
        /// The queue was full: frames were skipped up to the next keyframe (at most one event a minute).
        case fellBehind
        /// The timeline reached ``Limits/maxTimelineLines``; later lines are dropped.
        case timelineFull
    }

    enum Item: Sendable {
        case delivery(BroadcastDelivery)
        case skipped
        case timeline(Data)
        case cue(Data)
        case stop
    }

    struct Queue: Sendable {
        var items: Deque<Item> = []
        var bytes = 0
        var scheduled = false
        /// Frames were refused since the last accepted one.
        var skipping = false
        /// Finished or failed: everything is dropped.
        var closed = false
        var lastFellBehind: Date?
    }

    public let folder: URL
    public let limits: Limits
    private let queue = Mutex(Queue())
    private let writer: Writer
    private let dispatch: DispatchQueue
    private let onEvent: @Sendable (Event) -> Void

    public init(folder: URL, segmentTarget: Double, limits: Limits = Limits(), label: String,
                onEvent: @escaping @Sendable (Event) -> Void) {
        self.folder = folder
        self.limits = limits
        self.onEvent = onEvent
        writer = Writer(folder: folder, segmentTarget: segmentTarget, maxLines: limits.maxTimelineLines)
        dispatch = DispatchQueue(label: "liveloop.recorder.\(label)")
    }

    public var overflowPolicy: BroadcastOverflowPolicy { .skipToKeyframe }

    // MARK: Subscriber (ingest thread, hub lock held)

    public func receive(_ delivery: BroadcastDelivery) -> BroadcastReceipt {
        var cost = 0
        if case let .frame(frame, _) = delivery { cost = frame.data.readableBytes }
        var fellBehind = false
        let (receipt, schedule) = queue.withLock { queue -> (BroadcastReceipt, Bool) in
            guard !queue.closed else { return (.accepted, false) }
            if cost > 0, queue.bytes + cost > limits.maxQueuedBytes || queue.items.count >= limits.maxQueuedItems {
                queue.skipping = true
                let now = Date()
                if queue.lastFellBehind.map({ now.timeIntervalSince($0) >= 60 }) ?? true {
                    queue.lastFellBehind = now
                    fellBehind = true
                }
                return (.full, false)
            }
            if queue.skipping, cost > 0 {
                queue.skipping = false
                queue.items.append(.skipped)
            }
            queue.items.append(.delivery(delivery))
            queue.bytes += cost
            return (.accepted, Self.markScheduled(&queue))
        }
        if schedule { dispatch.async { self.drain() } }
        if fellBehind { dispatch.async { self.onEvent(.fellBehind) } }
        return receipt
    }

    public func detached(_ reason: BroadcastDetachReason) {
        // After `.end` the writer has finished already; otherwise (detached by its owner) it finishes now.
        enqueue(.stop, force: true)
    }

    // MARK: Owner

    /// Appends one line (JSON, no newline) to `timeline.jsonl`, in order with the media. Dropped when the queue is full.
    public func appendTimeline(_ line: Data) { enqueue(.timeline(line)) }

    /// Appends one ``RecordedCue`` line to `cues.jsonl`.
    public func appendCue(_ cue: RecordedCue) {
        guard let line = try? JSONEncoder().encode(cue) else { return }
        enqueue(.cue(line))
    }

    /// Finishes the recording (the open segment closes where its last frame ends); ``Event/finished(_:)`` follows.
    public func stop() { enqueue(.stop, force: true) }

    private func enqueue(_ item: Item, force: Bool = false) {
        let schedule = queue.withLock { queue -> Bool in
            guard !queue.closed else { return false }
            if !force, queue.items.count >= limits.maxQueuedItems { return false }
            queue.items.append(item)
            return Self.markScheduled(&queue)
        }
        if schedule { dispatch.async { self.drain() } }
    }

    private static func markScheduled(_ queue: inout Queue) -> Bool {
        guard !queue.scheduled else { return false }
        queue.scheduled = true
        return true
    }

    // MARK: Writer queue

    private func drain() {
        while true {
            let batch = queue.withLock { queue -> [Item] in
                guard !queue.items.isEmpty else {
                    queue.scheduled = false
                    return []
                }
                let items = Array(queue.items)
                queue.items.removeAll(keepingCapacity: true)
                queue.bytes = 0
                return items
            }
            if batch.isEmpty { return }
            let events = writer.perform(batch)
            if events.contains(where: { if case .timelineFull = $0 { false } else { true } }) {
                queue.withLock { $0.closed = true; $0.items.removeAll() }
            }
            for event in events { onEvent(event) }
        }
    }
}

/// What a finished (or failed) recording holds.
public struct RecordingSummary: Sendable, Equatable {
    public var segments: Int
    /// Seconds of media listed by the segments.
    public var duration: Double
    /// Bytes of the media files.
    public var bytes: Int
    /// The media time of the first segment, seconds (nil before any).
    public var mediaStart: Double?
    public var endedAt: Date

    public init(segments: Int, duration: Double, bytes: Int, mediaStart: Double?, endedAt: Date) {
        self.segments = segments
        self.duration = duration
        self.bytes = bytes
        self.mediaStart = mediaStart
        self.endedAt = endedAt
    }
}

extension RecordingSubscriber {
    /// The files and the packager, touched only on the recorder's dispatch queue (the lock is never contended; it
    /// makes that ownership checkable).
    final class Writer: Sendable {
        struct Files {
            var media: AppendFile?
            var segments: AppendFile?
            var timeline: AppendFile?
            var cues: AppendFile?
        }

        struct State {
            var packager: RecordingPackager
            var files = Files()
            var summary = RecordingSummary(segments: 0, duration: 0, bytes: 0, mediaStart: nil, endedAt: Date())
            var previousFilesBytes = 0
            var lines = 0
            var done = false
        }

        let folder: URL
        let maxLines: Int
        private let state: Mutex<State>

        init(folder: URL, segmentTarget: Double, maxLines: Int) {
            self.folder = folder
            self.maxLines = maxLines
            state = Mutex(State(packager: RecordingPackager(segmentTarget: segmentTarget)))
        }

        func perform(_ items: [Item]) -> [Event] {
            state.withLock { state -> [Event] in
                guard !state.done else { return [] }
                var events: [Event] = []
                do throws(RecordingError) {
                    var pending = ByteBuffer()
                    for item in items {
                        switch item {
                        case let .delivery(delivery):
                            let actions = state.packager.receive(delivery)
                            try apply(actions, &state, &pending)
                            if case .end = delivery {
                                try flush(&pending, &state)
                                events.append(.finished(finish(&state)))
                                return events
                            }
                        case .skipped:
                            try apply(state.packager.skipped(), &state, &pending)
                        case let .timeline(line), let .cue(line):
                            guard state.lines < maxLines else {
                                if state.lines == maxLines { events.append(.timelineFull) }
                                state.lines = maxLines + 1
                                continue
                            }
                            state.lines += 1
                            if case .cue = item {
                                try Self.open(&state.files.cues, folder, "cues.jsonl").append(line: line)
                            } else {
                                try Self.open(&state.files.timeline, folder, "timeline.jsonl").append(line: line)
                            }
                        case .stop:
                            try apply(state.packager.finish(), &state, &pending)
                            try flush(&pending, &state)
                            events.append(.finished(finish(&state)))
                            return events
                        }
                    }
                    try flush(&pending, &state)
                } catch {
                    state.summary.endedAt = Date()
                    state.summary.bytes = state.previousFilesBytes + (state.files.media?.length ?? 0)
                    state.done = true
                    state.files = Files()
                    events.append(.failed(error, state.summary))
                }
                return events
            }
        }

        private func apply(_ actions: [RecordingPackager.Action], _ state: inout State, _ pending: inout ByteBuffer) throws(RecordingError) {
            for action in actions {
                switch action {
                case let .startFile(name, initSegment):
                    try flush(&pending, &state)
                    state.previousFilesBytes += state.files.media?.length ?? 0
                    state.files.media = nil
                    let file = try AppendFile(path: folder.appendingPathComponent(name).path)
                    try file.append(initSegment)
                    state.files.media = file
                case let .append(bytes):
                    var bytes = bytes
                    pending.writeBuffer(&bytes)
                case let .segment(segment):
                    try flush(&pending, &state)
                    state.files.media?.sync()
                    let line = (try? JSONEncoder().encode(segment)) ?? Data()
                    try Self.open(&state.files.segments, folder, "segments.jsonl").append(line: line)
                    state.summary.segments += 1
                    state.summary.duration += segment.duration
                    if state.summary.mediaStart == nil { state.summary.mediaStart = segment.mediaTime }
                }
            }
        }

        /// Appends what the packager produced since the last write, in one `write`.
        private func flush(_ pending: inout ByteBuffer, _ state: inout State) throws(RecordingError) {
            guard pending.readableBytes > 0 else { return }
            defer { pending.clear() }
            if state.files.media == nil { return }
            try state.files.media?.append(pending)
        }

        private func finish(_ state: inout State) -> RecordingSummary {
            state.files.media?.sync()
            state.files.segments?.sync()
            state.summary.bytes = state.previousFilesBytes + (state.files.media?.length ?? 0)
            state.summary.endedAt = Date()
            state.done = true
            state.files = Files()
            return state.summary
        }

        /// The file, opened on first use.
        private static func open(_ file: inout AppendFile?, _ folder: URL, _ name: String) throws(RecordingError) -> AppendFile {
            if let file { return file }
            let opened = try AppendFile(path: folder.appendingPathComponent(name).path)
            file = opened
            return opened
        }
    }
}
