/// Counts open RTMP connections in total and per client address, and decides whether one more may open.
///
/// A plain value: the listener keeps one behind a lock, calls `admit(_:)` when a connection is accepted and
/// `release(_:)` when an admitted one closes. Addresses with no open connection are forgotten, so the table never
/// holds more entries than there are open connections.
public struct RTMPAdmission: Sendable {
    public enum Decision: Sendable, Equatable, CustomStringConvertible {
        case admit
        /// The server holds `limit` RTMP connections already.
        case serverFull(limit: Int)
        /// This address holds `limit` RTMP connections already.
        case addressFull(limit: Int)

        public var description: String {
            switch self {
            case .admit: "admitted"
            case let .serverFull(limit): "the server holds its limit of \(limit) RTMP connections"
            case let .addressFull(limit): "this address holds its limit of \(limit) RTMP connections"
            }
        }
    }

    public let maximumConnections: Int
    public let maximumConnectionsPerAddress: Int
    public private(set) var total = 0
    private var perAddress: [String: Int] = [:]

    public init(limits: RTMPConnectionLimits) {
        maximumConnections = max(1, limits.maximumConnections)
        maximumConnectionsPerAddress = max(1, limits.maximumConnectionsPerAddress)
    }

    /// Open connections from `address`.
    public func count(from address: String) -> Int { perAddress[address] ?? 0 }

    /// The number of addresses with an open connection.
    public var addressCount: Int { perAddress.count }

    /// Takes a slot for a connection from `address`, or says why there is none. A refused connection takes nothing.
    public mutating func admit(_ address: String) -> Decision {
        guard total < maximumConnections else { return .serverFull(limit: maximumConnections) }
        let open = perAddress[address] ?? 0
        guard open < maximumConnectionsPerAddress else { return .addressFull(limit: maximumConnectionsPerAddress) }
        perAddress[address] = open + 1
        total += 1
        return .admit
    }

    /// An admitted connection from `address` closed.
    public mutating func release(_ address: String) {
        guard let open = perAddress[address] else { return }
        perAddress[address] = open > 1 ? open - 1 : nil
        total = max(0, total - 1)
    }
}
