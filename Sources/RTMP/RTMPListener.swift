import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Binds the RTMP port and wires each accepted connection to its handler, after `RTMPAdmission` let it in.
public enum RTMPListener {
    /// - Parameters:
    ///   - admission: the connection caps' count; listeners that share one (RTMP and RTMPS) share the caps. A new one
    ///     from `connectionLimits` when nil.
    ///   - transport: adds handlers in front of the RTMP handler of each admitted connection (TLS, for RTMPS). The
    ///     setup deadline counts from the connection opening, so a stalled TLS handshake meets it too.
    public static func bind(
        host: String, port: Int, group: any EventLoopGroup, authorizer: any RTMPPublishAuthorizer,
        limits: ChunkDecoder.Limits = .init(), connectionLimits: RTMPConnectionLimits = .init(),
        admission: RTMPAdmissionGate? = nil, transport: (@Sendable (any Channel) throws -> Void)? = nil,
        connections: RTMPConnectionSet, logger: Logger
    ) async throws -> any Channel {
        let admission = admission ?? RTMPAdmissionGate(limits: connectionLimits)
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let address = channel.remoteAddress.map(RTMPAdmission.key(for:)) ?? "?"
                let decision = admission.admit(address)
                guard decision == .admit else {
                    // Refused before any byte is read: one line, and the socket is closed at once.
                    logger.info("RTMP connection refused: \(decision)", metadata: ["remote": "\(address)"])
                    channel.close(promise: nil)
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                channel.closeFuture.whenComplete { _ in admission.release(address) }
                connections.insert(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try transport?(channel)
                    try channel.pipeline.syncOperations.addHandler(
                        RTMPConnectionHandler(authorizer: authorizer, limits: limits, connectionLimits: connectionLimits, logger: logger)
                    )
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}

extension RTMPAdmission {
    /// The key a client address is counted under.
    public static func key(for address: SocketAddress) -> String {
        key(forIP: address.ipAddress ?? "\(address)")
    }

    /// The IPv4 address itself, or the /64 network of an IPv6 address (one subscriber usually holds a whole /64, so
    /// counting single IPv6 addresses would count nothing). An IPv4-mapped IPv6 address is its IPv4 client.
    public static func key(forIP text: String) -> String {
        guard text.contains(":") else { return text }
        let halves = text.split(separator: "::", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        func groups(_ part: String) -> [String] { part.isEmpty ? [] : part.split(separator: ":").map(String.init) }
        let head = groups(halves[0])
        let tail = halves.count > 1 ? groups(halves[1]) : []
        if let last = tail.last ?? head.last, last.contains(".") {
            // ::ffff:a.b.c.d
            let prefix = (head + tail.dropLast()).map { $0.lowercased() }
            if prefix == ["ffff"] || (prefix.count == 6 && prefix.last == "ffff" && prefix.dropLast().allSatisfy { Int($0, radix: 16) == 0 }) {
                return last
            }
        }
        let missing = max(0, 8 - head.count - tail.count)
        let all = head + Array(repeating: "0", count: halves.count > 1 ? missing : 0) + tail
        let network = all.prefix(4).map { String(Int($0, radix: 16) ?? 0, radix: 16) }
        return network.joined(separator: ":") + "::/64"
    }
}

/// The listener's `RTMPAdmission`, shared by the event loops that accept connections (and by the listeners that
/// count against the same caps).
public final class RTMPAdmissionGate: Sendable {
    private let admission: Mutex<RTMPAdmission>

    public init(limits: RTMPConnectionLimits) {
        admission = Mutex(RTMPAdmission(limits: limits))
    }

    func admit(_ address: String) -> RTMPAdmission.Decision { admission.withLock { $0.admit(address) } }
    func release(_ address: String) { admission.withLock { $0.release(address) } }
}

/// The open RTMP connections, so a graceful shutdown can close every publisher.
public final class RTMPConnectionSet: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    public init() {}

    func insert(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in
            _ = self?.channels.withLock { $0.removeValue(forKey: id) }
        }
    }

    public var count: Int { channels.withLock { $0.count } }

    public func closeAll() {
        for channel in channels.withLock({ Array($0.values) }) {
            channel.close(promise: nil)
        }
    }
}
