import LiveMedia
import MediaFormats
import NIOCore
import Synchronization

/// A relay's queue between the broadcast and its connection: at most `limit` deliveries and `byteLimit` bytes of
/// frames. When a delivery would pass either it is not taken (``offer(_:)`` says false); the broadcast then withholds
/// frames until the next keyframe (``BroadcastOverflowPolicy/skipToKeyframe``). A pure value: ``RelayFeed`` is the
/// shell with the lock and the waiting.
struct RelayQueue: Sendable {
    let limit: Int
    let byteLimit: Int
    private(set) var deliveries: [BroadcastDelivery] = []
    private(set) var bytes = 0
    /// The broadcast ended or detached the relay: nothing more comes after what is queued.
    private(set) var finished = false

    init(limit: Int, byteLimit: Int) {
        self.limit = limit
        self.byteLimit = byteLimit
    }

    static func size(_ delivery: BroadcastDelivery) -> Int {
        if case let .frame(frame, _) = delivery { return frame.data.readableBytes }
        return 0
    }

    /// Takes `delivery` unless the queue is full. Configuration, interruptions and the end are always taken: they are
    /// few and small, and the relay must hear them.
    mutating func offer(_ delivery: BroadcastDelivery) -> Bool {
        guard !finished else { return true }
        let size = Self.size(delivery)
        if case .frame = delivery, deliveries.count >= limit || bytes + size > byteLimit { return false }
        deliveries.append(delivery)
        bytes += size
        if case .end = delivery { finished = true }
        return true
    }

    mutating func finish() { finished = true }

    /// Everything queued, removed.
    mutating func takeAll() -> [BroadcastDelivery] {
        defer {
            deliveries = []
            bytes = 0
        }
        return deliveries
    }
}

/// One connection's subscription to a broadcast: ``RelayQueue`` behind a lock, and the relay's task waiting on it.
/// `receive` runs under the broadcast's hub lock and only appends and wakes; the sending happens in the relay's task.
final class RelayFeed: BroadcastSubscriber {
    private struct State {
        var queue: RelayQueue
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state: Mutex<State>

    init(limit: Int, byteLimit: Int) {
        state = Mutex(State(queue: RelayQueue(limit: limit, byteLimit: byteLimit)))
    }

    var overflowPolicy: BroadcastOverflowPolicy { .skipToKeyframe }

    func receive(_ delivery: BroadcastDelivery) -> BroadcastReceipt {
        let (taken, waiter) = state.withLock { state in
            let taken = state.queue.offer(delivery)
            defer { if taken { state.waiter = nil } }
            return (taken, taken ? state.waiter : nil)
        }
        waiter?.resume()
        return taken ? .accepted : .full
    }

    func detached(_ reason: BroadcastDetachReason) {
        let waiter = state.withLock { state in
            state.queue.finish()
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// The next deliveries, in order, waiting until there are some. Empty once the feed is finished and drained, or
    /// when the task is cancelled.
    func next() async -> [BroadcastDelivery] {
        while !Task.isCancelled {
            let (batch, finished) = state.withLock { ($0.queue.takeAll(), $0.queue.finished) }
            if !batch.isEmpty { return batch }
            if finished { return [] }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let ready = state.withLock { state -> Bool in
                        if !state.queue.deliveries.isEmpty || state.queue.finished || Task.isCancelled { return true }
                        state.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                let waiter = state.withLock { state in
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume()
            }
        }
        return []
    }
}
