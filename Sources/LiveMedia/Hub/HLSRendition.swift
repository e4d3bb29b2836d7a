import Foundation
import MediaFormats
import NIOCore
import Synchronization

/// One LL-HLS rendition as a broadcast subscriber: its packager, the requests waiting on it (blocking playlist
/// reloads, readers of the part being written) and its sub-second viewers (``LiveViewers``), behind its own lock.
///
/// Policy: never full. Packaging a delivery is bounded in-memory work done as it arrives; nothing here waits on a
/// reader. Blocked playlist requests are continuations that expire after three target durations; a reader of the open
/// part gets its chunks as they come, and that part closes within PART-TARGET; a WebSocket viewer whose bounded queue is
/// full is dropped. HTTP handlers read under the same lock, for in-memory work only: continuations are resumed and
/// streams finished after it is released.
final class HLSRendition: BroadcastSubscriber {
    enum WaitOutcome: Sendable { case ready, tooFarAhead, timedOut, notReady }

    struct Waiter {
        var msn: Int
        var part: Int?
        var continuation: CheckedContinuation<WaitOutcome, Never>
    }

    struct PartReader {
        var msn: Int
        var part: Int
        var continuation: AsyncStream<ByteBuffer>.Continuation
    }

    struct State {
        var packager: HLSPackager?
        var waiters: [Int: Waiter] = [:]
        var partReaders: [Int: PartReader] = [:]
        var live = LiveViewers()
        var nextID = 0
        /// The publisher is away (an `interrupt` with no frame since): a viewer joining now is told so.
        var interrupted = false
    }

    /// What to do once the lock is released.
    struct Wakeups {
        var resumes: [CheckedContinuation<WaitOutcome, Never>] = []
        var feeds: [(AsyncStream<ByteBuffer>.Continuation, ByteBuffer)] = []
        var finishes: [AsyncStream<ByteBuffer>.Continuation] = []
        var liveFinishes: [AsyncStream<LiveFragment>.Continuation] = []

        var isEmpty: Bool { resumes.isEmpty && feeds.isEmpty && finishes.isEmpty && liveFinishes.isEmpty }

        func perform() {
            for (continuation, bytes) in feeds { continuation.yield(bytes) }
            for continuation in finishes { continuation.finish() }
            for continuation in liveFinishes { continuation.finish() }
            for continuation in resumes { continuation.resume(returning: .ready) }
        }
    }

    let configuration: HLSConfiguration
    let startedAt: Date
    let state = Mutex(State())

    init(configuration: HLSConfiguration, startedAt: Date) {
        self.configuration = configuration
        self.startedAt = startedAt
    }

    var overflowPolicy: BroadcastOverflowPolicy { .neverFull }

    // MARK: Subscriber

    func receive(_ delivery: BroadcastDelivery) -> BroadcastReceipt {
        var wakeups = Wakeups()
        state.withLock { state in
            let events: [PackagerEvent]
            switch delivery {
            case let .configure(video, audio, clock):
                state.interrupted = false
                var packager = state.packager ?? HLSPackager(configuration: configuration, clock: clock)
                state.packager = nil
                // Other codecs close the open segment: its readers must hear that its last part completed.
                events = packager.configure(CMAFMuxer(video: video, audio: audio))
                state.packager = packager
            case let .frame(frame, afterJump):
                guard var packager = state.packager else { return }
                state.interrupted = false
                // Taken out while it changes, so its buffers are uniquely referenced and appends do not copy them.
                state.packager = nil
                // The publisher's timestamps jumped: what is open closes, and the next segment follows a discontinuity.
                var packaged = afterJump ? packager.interrupt() : []
                packaged += packager.append(frame)
                events = packaged
                state.packager = packager
            case .interrupt:
                events = state.packager?.interrupt() ?? []
                state.interrupted = true
            case .end:
                // Ending flushes held audio into the open part: its readers get those last chunks before they finish.
                events = state.packager?.end() ?? []
                if state.packager == nil {
                    var empty = HLSPackager(configuration: configuration, clock: StreamClock(anchorMediaTime: 0, anchorWallClock: startedAt))
                    empty.end()
                    state.packager = empty
                }
            }
            Self.feedLive(events, state: &state, wakeups: &wakeups)
            Self.dispatch(events, state: &state, wakeups: &wakeups)
            if case .interrupt = delivery { wakeups.liveFinishes += state.live.interrupt() }
            if case .end = delivery {
                wakeups.resumes += state.waiters.values.map(\.continuation)
                state.waiters.removeAll()
                wakeups.finishes += state.partReaders.values.map(\.continuation)
                state.partReaders.removeAll()
                wakeups.liveFinishes += state.live.removeAll()
            }
        }
        if !wakeups.isEmpty { wakeups.perform() }
        return .accepted
    }

    func detached(_ reason: BroadcastDetachReason) {}

    /// The sub-second path: every chunk goes to the WebSocket viewers as it is packaged, after a new init segment
    /// when the codecs changed.
    private static func feedLive(_ events: [PackagerEvent], state: inout State, wakeups: inout Wakeups) {
        guard !state.live.isEmpty, let packager = state.packager else { return }
        var chunks: [ByteBuffer] = []
        for case let .chunk(_, _, bytes) in events { chunks.append(bytes) }
        let initSegment = packager.muxer.map { (packager.initVersion, $0.initSegment, $0.codecs) }
        wakeups.liveFinishes += state.live.feed(chunks, initSegment: initSegment)
    }

    /// Feeds readers of the open part, finishes those whose part completed and wakes blocked playlist requests that
    /// the playlist now satisfies.
    private static func dispatch(_ events: [PackagerEvent], state: inout State, wakeups: inout Wakeups) {
        var playlistChanged = false
        for event in events {
            switch event {
            case let .chunk(msn, part, bytes):
                guard !state.partReaders.isEmpty else { continue }
                for reader in state.partReaders.values where reader.msn == msn && reader.part == part {
                    wakeups.feeds.append((reader.continuation, bytes))
                }
            case let .partCompleted(msn, part):
                playlistChanged = true
                for (id, reader) in state.partReaders where reader.msn == msn && reader.part == part {
                    wakeups.finishes.append(reader.continuation)
                    state.partReaders[id] = nil
                }
            case .segmentCompleted:
                playlistChanged = true
            }
        }
        guard playlistChanged, !state.waiters.isEmpty, let packager = state.packager else { return }
        for (id, waiter) in state.waiters where packager.contains(msn: waiter.msn, part: waiter.part) {
            wakeups.resumes.append(waiter.continuation)
            state.waiters[id] = nil
        }
    }

    // MARK: Sub-second viewers

    /// The init segment and every chunk since the last keyframe first, then each chunk as it is packaged; `interrupted`
    /// after them while the publisher is away, and again each time it leaves. The stream ends when the broadcast ends
    /// or the viewer falls `bufferLimit` fragments behind.
    func subscribeLive(bufferLimit: Int) -> AsyncStream<LiveFragment> {
        let (stream, continuation) = AsyncStream.makeStream(of: LiveFragment.self, bufferingPolicy: .bufferingOldest(bufferLimit))
        let live = state.withLock { state -> Bool in
            guard let packager = state.packager, !packager.ended else { return false }
            if let muxer = packager.muxer {
                continuation.yield(.initSegment(muxer.initSegment, codecs: muxer.codecs))
                // From the last keyframe on: the chunks a decoder needs to start.
                for bytes in packager.partsSinceKeyframe where bytes.readableBytes > 0 {
                    continuation.yield(.media(bytes))
                }
            }
            if state.interrupted { continuation.yield(.interrupted) }
            let id = state.live.add(continuation, initVersion: packager.muxer == nil ? -1 : packager.initVersion)
            continuation.onTermination = { [weak self] _ in
                self?.state.withLock { $0.live.remove(id) }
            }
            return true
        }
        if !live { continuation.finish() }
        return stream
    }

    // MARK: Reading

    /// Whether any sub-second (WebSocket) viewer is attached.
    var hasLiveViewers: Bool { state.withLock { !$0.live.isEmpty } }

    func read<T: Sendable>(_ body: (HLSPackager) -> T) -> T? {
        state.withLock { state in state.packager.map(body) }
    }

    /// Changes the packager in place (numbering a transcoded rendition's next segment); nil before it exists.
    func update<T>(_ body: (inout HLSPackager) -> T) -> T? {
        state.withLock { state in
            guard var packager = state.packager else { return nil }
            state.packager = nil
            defer { state.packager = packager }
            return body(&packager)
        }
    }

    func addCue(_ cue: MediaCue) -> Bool {
        state.withLock { $0.packager?.addCue(cue) ?? false }
    }

    /// A part, whole if complete, streamed if it is the one being written.
    func part(msn: Int, index: Int) -> Broadcast.PartResponse {
        state.withLock { state in
            guard let packager = state.packager else { return .notFound }
            switch packager.part(msn: msn, index: index) {
            case let .complete(bytes):
                return .complete(bytes)
            case .notFound:
                return .notFound
            case let .open(bytes):
                let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
                let id = state.nextID
                state.nextID += 1
                state.partReaders[id] = PartReader(msn: msn, part: index, continuation: continuation)
                // Yielded under the lock: an ingest on another thread may feed this reader its next chunk, or finish
                // it, as soon as the lock is released, and the bytes so far must come before either.
                if bytes.readableBytes > 0 { continuation.yield(bytes) }
                return .streaming(stream)
            }
        }
    }

    /// Waits (blocking playlist reload, RFC 8216bis §6.2.5.2) until the playlist holds `msn`/`part`, at most
    /// `timeout` seconds.
    func wait(msn: Int, part: Int?, timeout: Double) async -> WaitOutcome {
        await withCheckedContinuation { continuation in
            let immediate: WaitOutcome? = state.withLock { state in
                guard let packager = state.packager else { return .notReady }
                if msn > packager.liveEdgeSequenceNumber + 2 { return .tooFarAhead }
                if packager.contains(msn: msn, part: part) { return .ready }
                let id = state.nextID
                state.nextID += 1
                state.waiters[id] = Waiter(msn: msn, part: part, continuation: continuation)
                Task { [weak self] in
                    try? await Task.sleep(for: .seconds(timeout))
                    self?.expireWaiter(id)
                }
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    private func expireWaiter(_ id: Int) {
        let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
        waiter?.continuation.resume(returning: .timedOut)
    }
}
