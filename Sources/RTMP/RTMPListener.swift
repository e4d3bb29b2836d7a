import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Binds the RTMP port and wires each accepted connection to its handler.
public enum RTMPListener {
    /// A connection that sends nothing for this long is closed (the handshake included).
    public static let idleTimeout = TimeAmount.seconds(30)

    public static func bind(
        host: String, port: Int, group: any EventLoopGroup, authorizer: any RTMPPublishAuthorizer,
        limits: ChunkDecoder.Limits = .init(), connections: RTMPConnectionSet, logger: Logger
    ) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                connections.insert(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try channel.pipeline.syncOperations.addHandler(
                        RTMPConnectionHandler(authorizer: authorizer, limits: limits, logger: logger)
                    )
                }
            }
            .bind(host: host, port: port)
            .get()
    }
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
