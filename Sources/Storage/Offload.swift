import Dispatch

/// Runs a blocking call (a synchronous SQLite read or write) on a Dispatch thread, off the cooperative pool, and
/// returns its result to the caller's task.
public func offloaded<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Swift.Result { try body() })
        }
    }
}
