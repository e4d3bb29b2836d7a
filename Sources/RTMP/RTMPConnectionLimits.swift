/// How many RTMP connections the server holds, and for how long one may go without making progress.
///
/// The defaults suit a server with a handful of publishers that faces the internet: an encoder needs one connection,
/// so ten from one address leave room for a studio behind one NAT while a single host cannot take the port.
public struct RTMPConnectionLimits: Sendable, Equatable {
    /// Open RTMP connections in total; one more is refused and closed at once.
    public var maximumConnections = 1000
    /// Open RTMP connections from one client address (IPv4 address, or IPv6 /64 network).
    public var maximumConnectionsPerAddress = 10
    /// Time from the TCP accept to an accepted `publish`: handshake, `connect`, `createStream`, `publish` and the
    /// stream key check. A connection still without an accepted publish then is closed.
    public var setupTimeout: Duration = .seconds(10)
    /// Longest time without one whole RTMP message (or handshake packet). Bytes that complete nothing — one every few
    /// seconds — are no progress.
    public var idleTimeout: Duration = .seconds(30)

    public init(
        maximumConnections: Int = 1000, maximumConnectionsPerAddress: Int = 10,
        setupTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(30)
    ) {
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerAddress = maximumConnectionsPerAddress
        self.setupTimeout = setupTimeout
        self.idleTimeout = idleTimeout
    }
}
