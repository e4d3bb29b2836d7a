/// What one client, and all clients together, may hold on the HTTP port (API, LL-HLS, WebSockets). Every default is
/// printed by `liveloop serve --help` and listed in docs/limits.md.
public struct HTTPLimits: Sendable, Equatable {
    /// Open connections on the HTTP port, HTTP and WebSocket together; past it a new connection gets 503 `server_full`.
    public var maxConnections = 10_000
    /// Open connections from one client address; past it a new connection gets 429 `too_many_connections`. 0 turns
    /// the cap off (behind a reverse proxy every client has the proxy's address).
    public var maxConnectionsPerAddress = 256
    /// Time a client has to send a whole request head once it has connected or started one: 408 and a close after it.
    public var headerReadTimeout: Duration = .seconds(10)
    /// Time a kept-alive connection may sit between requests before it is closed.
    public var idleTimeout: Duration = .seconds(60)
    /// Bytes a request head (request line and header fields) may take: 431 and a close past it.
    public var maxRequestHeadBytes = 16 * 1024
    /// Time a connection's outbound buffer may stay full (the client reads nothing, or too little) before it is
    /// closed and what was queued for it is freed.
    public var slowConsumerTimeout: Duration = .seconds(10)
    /// The kernel's send buffer per connection (SO_SNDBUF), which bounds how much a client that reads nothing holds
    /// in the kernel before `slowConsumerTimeout` starts counting. nil leaves the kernel's autotuning (up to
    /// `net.ipv4.tcp_wmem`, 4 MiB by default).
    public var sendBufferBytes: Int?
    /// Time an interaction WebSocket has to send its first message (the web page and the SDK send one at once).
    public var webSocketFirstMessageTimeout: Duration = .seconds(10)

    public init() {}
}
