import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A minimal `ws://` client on NIO sockets (RFC 6455 client side: masked frames, pong to ping, close echo), whose
/// socket can be bound to a local address before connecting. `WSClient` cannot bind one, and one source address
/// has only ~28,000 ephemeral ports (Linux's default 32768–60999), so a load generator spreads its connections over
/// 127.0.0.1…127.0.0.K with this transport. No per-connection task: frames are handled on the channel's event loop.
struct InteractionPosixTransport: InteractionTransport {
    let channel: any Channel

    private enum Upgrade: Sendable {
        case upgraded
        case refused
    }

    static func open(_ endpoint: InteractionEndpoint, localAddress: String?, configuration: InteractionClient.Configuration,
                     events: InteractionTransportEvents) async throws -> InteractionPosixTransport {
        guard !endpoint.secure else { throw InteractionClientError.invalidURL("wss:// needs the webSocketClient transport") }
        var bootstrap = ClientBootstrap(group: configuration.eventLoopGroup)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.nanoseconds(configuration.connectTimeout.wholeNanoseconds))
        if let localAddress {
            bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: localAddress, port: 0))
        }
        let maximumFrameBytes = configuration.maximumFrameBytes
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: endpoint.port == 80 ? endpoint.host : "\(endpoint.host):\(endpoint.port)")
        if let token = endpoint.token, !token.isEmpty { headers.add(name: "Authorization", value: "Bearer \(token)") }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: endpoint.target, headers: headers)
        let (channel, upgrade) = try await bootstrap.connect(host: endpoint.host, port: endpoint.port) { channel in
            channel.eventLoop.makeCompletedFuture { () -> (any Channel, EventLoopFuture<Upgrade>) in
                let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(maxFrameSize: maximumFrameBytes) { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            InteractionFrameHandler(events: events, maximumMessageBytes: maximumFrameBytes))
                        return Upgrade.upgraded
                    }
                }
                let upgradeConfiguration = NIOTypedHTTPClientUpgradeConfiguration(
                    upgradeRequestHead: head, upgraders: [upgrader],
                    notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(Upgrade.refused) })
                var pipeline = NIOUpgradableHTTPClientPipelineConfiguration(upgradeConfiguration: upgradeConfiguration)
                // The server's first frame (`hello`) can arrive in the same read as the 101 response: keep those bytes.
                pipeline.leftOverBytesStrategy = .forwardBytes
                let result = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(configuration: pipeline)
                return (channel, result)
            }
        }
        // A server that closes the socket mid-upgrade never completes the upgrade future: the close ends the wait too.
        let outcome: Upgrade = try await withCheckedThrowingContinuation { continuation in
            let once = ResumeOnce(continuation)
            upgrade.whenComplete { once.resume(with: $0) }
            channel.closeFuture.whenComplete { _ in once.resume(with: .failure(InteractionClientError.disconnected)) }
        }
        switch outcome {
        case .upgraded:
            return InteractionPosixTransport(channel: channel)
        case .refused:
            try? await channel.close()
            throw InteractionClientError.upgradeRefused(status: nil)
        }
    }

    func write(_ text: ByteBuffer) {
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: text), promise: nil)
    }

    func close() async {
        var reason = ByteBuffer()
        reason.write(webSocketErrorCode: .normalClosure)
        try? await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: reason))
        try? await channel.close()
    }
}

/// Reads WebSocket frames on the event loop: text messages (reassembled from fragments) go to the client, pings are
/// answered, a close is echoed and ends the connection.
final class InteractionFrameHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let events: InteractionTransportEvents
    private let maximumMessageBytes: Int
    private var fragments: ByteBuffer?
    private var closing = false

    init(events: InteractionTransportEvents, maximumMessageBytes: Int) {
        self.events = events
        self.maximumMessageBytes = maximumMessageBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            if frame.fin {
                fragments = nil
                events.frame(frame.unmaskedData)
            } else {
                fragments = frame.unmaskedData
            }
        case .continuation:
            guard var message = fragments else { return }
            var more = frame.unmaskedData
            message.writeBuffer(&more)
            guard message.readableBytes <= maximumMessageBytes else {
                fragments = nil
                sendClose(context: context, code: .messageTooLarge)
                return
            }
            if frame.fin {
                fragments = nil
                events.frame(message)
            } else {
                fragments = message
            }
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            sendClose(context: context, code: .normalClosure)
        default:
            break
        }
    }

    private func sendClose(context: ChannelHandlerContext, code: WebSocketErrorCode) {
        guard !closing else { return }
        closing = true
        var reason = context.channel.allocator.buffer(capacity: 2)
        reason.write(webSocketErrorCode: code)
        let close = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: reason)
        context.writeAndFlush(wrapOutboundOut(close), promise: nil)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        events.closed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (nanos, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return nanos &+ attoseconds / 1_000_000_000
    }
}
