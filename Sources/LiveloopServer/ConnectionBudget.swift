import HTTPTypes
import Synchronization

/// Counts open WebSocket connections against a limit; an upgrade that would pass it is refused.
public final class ConnectionBudget: Sendable {
    public let limit: Int
    private let open = Atomic<Int>(0)

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    public var count: Int { open.load(ordering: .relaxed) }

    /// Takes a slot, or returns false when the server is full.
    public func acquire() -> Bool {
        if open.wrappingAdd(1, ordering: .relaxed).newValue > limit {
            open.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    public func release() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }

    static let full = APIError(.serviceUnavailable, code: "server_full", message: "this server has no room for more connections; try again later")
}
