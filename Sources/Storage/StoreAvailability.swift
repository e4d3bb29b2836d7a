import GRDB
import PostgresNIO
import Synchronization

/// A store call that got no answer in time: the database is taken to be away.
public struct StoreUnavailable: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Tells a database that cannot be reached, or cannot take writes just now, from a refusal of one call (a constraint,
/// a bad value). The server answers the first `unavailable` and tries again later; the second is a bug or bad input.
public enum StoreAvailability {
    public static func isUnavailable(_ error: any Error) -> Bool {
        switch error {
        case is StoreUnavailable:
            return true
        case let error as PSQLError:
            switch error.code {
            case .server:
                // SQLSTATE classes 08 (connection exception), 53 (insufficient resources), 57P (shutdown, crash,
                // cannot connect now).
                let state = error.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57P")
            case .clientClosedConnection, .serverClosedConnection, .connectionError, .uncleanShutdown, .poolClosed, .queryCancelled:
                return true
            default:
                return false
            }
        case let error as PostgresTransactionError:
            return [error.beginError, error.closureError, error.commitError].contains { $0.map(isUnavailable) ?? false }
        case let error as DatabaseError:
            return [.SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_IOERR, .SQLITE_FULL, .SQLITE_CANTOPEN, .SQLITE_READONLY]
                .contains(error.resultCode.primaryResultCode)
        default:
            // postgres-nio's pool answers with its own `ConnectionPoolError` (from a module it does not export) while
            // no connection can be made: the circuit breaker tripped, or no connection came in time.
            return String(reflecting: type(of: error)).hasSuffix("ConnectionPoolError")
        }
    }

    /// Runs `body`, giving up after `timeout` with ``StoreUnavailable`` (and cancelling it): postgres-nio's pool
    /// waits for a connection for as long as the database is away, and a caller that holds others up (the room's
    /// commit) must not wait with it. The answer comes at the timeout even if `body` ignores its cancellation.
    public static func within<T: Sendable>(_ timeout: Duration, _ what: String,
                                           _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let race = Race<T>()
        return try await withCheckedThrowingContinuation { continuation in
            race.waiting.withLock { $0 = continuation }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled, let late = race.waiting.withLock({ $0.take() }) else { return }
                race.work.withLock { $0 }?.cancel()
                late.resume(throwing: StoreUnavailable("the database did not answer \(what) within \(timeout)"))
            }
            let task = Task {
                let result: Result<T, any Error>
                do { result = .success(try await body()) } catch { result = .failure(error) }
                timer.cancel()
                race.waiting.withLock { $0.take() }?.resume(with: result)
            }
            race.work.withLock { $0 = task }
        }
    }
}

/// The continuation that the first of the work and the timer resumes, and the work to cancel at the timeout.
private final class Race<T: Sendable>: Sendable {
    let waiting = Mutex<CheckedContinuation<T, any Error>?>(nil)
    let work = Mutex<Task<Void, Never>?>(nil)
}
