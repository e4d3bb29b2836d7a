import NIOCore
import NIOPosix
import Synchronization

/// A stand-in for a load balancer: listens on a port of its own and forwards each new connection to whichever backend
/// port `backend` names at that moment, so a client with one address can move from one node to another.
final class TCPForwarder: Sendable {
    let port: Int
    private let listener: any Channel
    private let target: Target

    private final class Target: Sendable {
        let port: Mutex<Int?>
        init(_ port: Int?) { self.port = Mutex(port) }
    }

    init(backend: Int?) async throws {
        let target = Target(backend)
        self.target = target
        listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { inbound in
                guard let port = target.port.withLock({ $0 }) else { return inbound.close() }
                return ClientBootstrap(group: inbound.eventLoop).connect(host: "127.0.0.1", port: port).flatMap { outbound in
                    let (a, b) = (Pipe(partner: outbound), Pipe(partner: inbound))
                    // The new connection is registered (and read) only once this future completes, so nothing it
                    // sends arrives before the backend side is wired.
                    return inbound.pipeline.addHandler(a).flatMap { outbound.pipeline.addHandler(b) }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = listener.localAddress?.port ?? 0
    }

    func point(to port: Int?) { target.port.withLock { $0 = port } }

    func close() async { try? await listener.close() }

    /// Copies what one side reads to the other; either side closing closes both.
    private final class Pipe: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let partner: any Channel
        init(partner: any Channel) { self.partner = partner }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            partner.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            partner.close(promise: nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
