import Foundation
import Synchronization

/// Commits appended records in batches: whatever arrives while one transaction runs goes into the next, so a burst of
/// 100,000 votes costs a few hundred transactions, not 100,000. `append` returns once its records are durable, and
/// batches commit in the order they were appended.
///
/// `onCommit`, when given, hears of every `append` once its transaction ends: the time from the call to durable (or
/// to the failure) and whether it failed. It runs on the commit thread, once per `append`, never per record.
public final class GroupCommitLog: Sendable {
    typealias Waiter = (continuation: CheckedContinuation<Void, any Error>, since: ContinuousClock.Instant)

    struct Pending {
        var items: [(channel: String, payload: Data)] = []
        var waiters: [Waiter] = []
        var running = false
    }

    private let store: SQLiteStore
    private let pending = Mutex(Pending())
    private let onCommit: (@Sendable (_ latency: Duration, _ failed: Bool) -> Void)?

    public init(store: SQLiteStore, onCommit: (@Sendable (_ latency: Duration, _ failed: Bool) -> Void)? = nil) {
        self.store = store
        self.onCommit = onCommit
    }

    /// Appends records and waits until they are committed.
    public func append(channel: String, payloads: [Data]) async throws {
        guard !payloads.isEmpty else { return }
        let since = ContinuousClock.now
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let start = pending.withLock { state -> Bool in
                state.items += payloads.map { (channel, $0) }
                state.waiters.append((continuation, since))
                if state.running { return false }
                state.running = true
                return true
            }
            if start {
                Thread.detachNewThread { [self] in drain() }
            }
        }
    }

    /// Runs on its own thread: SQLite calls block, and they must not block the event loops or the cooperative pool.
    private func drain() {
        while true {
            let (items, waiters): ([(channel: String, payload: Data)], [Waiter]) = pending.withLock { state in
                if state.items.isEmpty {
                    state.running = false
                    return ([], [])
                }
                defer { state.items.removeAll(keepingCapacity: true); state.waiters.removeAll(keepingCapacity: true) }
                return (state.items, state.waiters)
            }
            if items.isEmpty { return }
            var failure: (any Error)?
            do {
                try store.appendEvents(items)
            } catch {
                failure = error
            }
            let now = ContinuousClock.now
            for waiter in waiters {
                onCommit?(waiter.since.duration(to: now), failure != nil)
                if let failure {
                    waiter.continuation.resume(throwing: failure)
                } else {
                    waiter.continuation.resume()
                }
            }
        }
    }
}
