import Foundation
import Synchronization

/// Commits appended records in batches: whatever arrives while one transaction runs goes into the next, so a burst of
/// 100,000 votes costs a few hundred transactions, not 100,000. `append` returns once its records are durable, and
/// batches commit in the order they were appended.
public final class GroupCommitLog: Sendable {
    struct Pending {
        var items: [(channel: String, payload: Data)] = []
        var waiters: [CheckedContinuation<Void, any Error>] = []
        var running = false
    }

    private let store: SQLiteStore
    private let pending = Mutex(Pending())

    public init(store: SQLiteStore) {
        self.store = store
    }

    /// Appends records and waits until they are committed.
    public func append(channel: String, payloads: [Data]) async throws {
        guard !payloads.isEmpty else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let start = pending.withLock { state -> Bool in
                state.items += payloads.map { (channel, $0) }
                state.waiters.append(continuation)
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
            let (items, waiters): ([(channel: String, payload: Data)], [CheckedContinuation<Void, any Error>]) = pending.withLock { state in
                if state.items.isEmpty {
                    state.running = false
                    return ([], [])
                }
                defer { state.items.removeAll(keepingCapacity: true); state.waiters.removeAll(keepingCapacity: true) }
                return (state.items, state.waiters)
            }
            if items.isEmpty { return }
            do {
                try store.appendEvents(items)
                for waiter in waiters { waiter.resume() }
            } catch {
                for waiter in waiters { waiter.resume(throwing: error) }
            }
        }
    }
}
