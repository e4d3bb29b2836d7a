import Foundation
import Synchronization

/// Commits appended records in batches: whatever arrives while one transaction runs goes into the next, so a burst of
/// 100,000 votes costs a few hundred transactions, not 100,000. `append` returns once its records are durable, and
/// batches commit in the order they were appended. The same for every `EventLog` (SQLite or PostgreSQL).
///
/// `onCommit`, when given, hears of every `append` once its transaction ends: the time from the call to durable (or
/// to the failure) and whether it failed. It runs once per `append`, never per record.
public final class GroupCommitLog: Sendable {
    typealias Waiter = (channel: String, continuation: CheckedContinuation<Int64, any Error>, since: ContinuousClock.Instant)

    struct Pending {
        var items: [(channel: String, payload: Data)] = []
        var waiters: [Waiter] = []
        var running = false
    }

    private let log: any EventLog
    private let pending = Mutex(Pending())
    private let onCommit: (@Sendable (_ latency: Duration, _ failed: Bool) -> Void)?
    /// A transaction that has not ended by then fails its appends with ``StoreUnavailable`` (the database is away:
    /// postgres-nio's pool would wait for it indefinitely, and every later append waits behind this one).
    private let commitTimeout: Duration

    public static let defaultCommitTimeout: Duration = .seconds(5)

    public init(log: any EventLog, commitTimeout: Duration = GroupCommitLog.defaultCommitTimeout,
                onCommit: (@Sendable (_ latency: Duration, _ failed: Bool) -> Void)? = nil) {
        self.log = log
        self.commitTimeout = commitTimeout
        self.onCommit = onCommit
    }

    /// Appends records and waits until they are committed; returns the id of the channel's last record (0 for none).
    @discardableResult
    public func append(channel: String, payloads: [Data]) async throws -> Int64 {
        guard !payloads.isEmpty else { return 0 }
        let since = ContinuousClock.now
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int64, any Error>) in
            let start = pending.withLock { state -> Bool in
                state.items += payloads.map { (channel, $0) }
                state.waiters.append((channel, continuation, since))
                if state.running { return false }
                state.running = true
                return true
            }
            if start {
                Task { [self] in await drain() }
            }
        }
    }

    /// One drainer at a time: each pass commits everything appended while the previous transaction ran.
    private func drain() async {
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
            var result: Result<[String: Int64], any Error>
            do {
                let log = log
                result = .success(try await StoreAvailability.within(commitTimeout, "a commit") { try await log.appendEvents(items) })
            } catch {
                result = .failure(error)
            }
            let now = ContinuousClock.now
            for waiter in waiters {
                switch result {
                case let .success(last):
                    onCommit?(waiter.since.duration(to: now), false)
                    waiter.continuation.resume(returning: last[waiter.channel] ?? 0)
                case let .failure(error):
                    onCommit?(waiter.since.duration(to: now), true)
                    waiter.continuation.resume(throwing: error)
                }
            }
        }
    }
}
