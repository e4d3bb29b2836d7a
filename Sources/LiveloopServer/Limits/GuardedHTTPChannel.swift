import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import HTTPTypes
import Logging
import NIOCore
import Prometheus

/// The HTTP port's child channel: Hummingbird's HTTP/1.1-with-WebSocket-upgrade channel behind a `ConnectionGuard`,
/// admitted by a `ConnectionLedger`. A connection the ledger refuses gets one JSON error response (503 `server_full`
/// or 429 `too_many_connections`) and is closed without reaching the HTTP parser.
///
/// With `tls`, the port speaks HTTPS (and WSS) only: TLS is the first handler, in front of the guard, so the guard's
/// limits see the decrypted bytes; `TLSHandshakeDeadline` closes a connection whose handshake stalls, and
/// `PlainHTTPRefusal` answers a plain-HTTP request with a readable 400.
struct GuardedHTTPChannel: ServerChildChannel {
    enum Value: ServerChildChannelValue {
        case admitted(HTTP1WebSocketUpgradeChannel.Value)
        case refused(any Channel)

        var channel: any Channel {
            switch self {
            case let .admitted(value): value.channel
            case let .refused(channel): channel
            }
        }
    }

    let base: HTTP1WebSocketUpgradeChannel
    let ledger: ConnectionLedger
    let limits: HTTPLimits
    let refusals: HTTPRefusalCounters
    let tls: TLSCredentials?
    let logger: Logger

    /// How long a refused TLS connection may take over its handshake before it is closed without its answer: refused
    /// connections are not counted by the ledger, so each must go quickly.
    static let refusalHandshakeTimeout: Duration = .seconds(2)

    /// The builder to hand `Application`: every connection goes through the guard.
    static func builder<WSResponderBuilder: HTTPResponderBuilder & _HB_SendableMetatype>(
        webSocketRouter: WSResponderBuilder, webSocket: WebSocketServerConfiguration, ledger: ConnectionLedger,
        limits: HTTPLimits, refusals: HTTPRefusalCounters, tls: TLSCredentials?, logger: Logger
    ) -> HTTPServerBuilder where WSResponderBuilder.Responder.Context: WebSocketRequestContext {
        let webSocketResponder = webSocketRouter.buildResponder()
        var http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [RequestEndObserver()], idleTimeout: TimeAmount(limits.idleTimeout)
        )
        // The guard refuses a larger head first with a 431; the parser's own limits stop the later requests of a
        // kept-alive connection the same way.
        http1.httpDecoder = .init(maxHeaderFieldSize: limits.maxRequestHeadBytes, maxHeaderListSize: limits.maxRequestHeadBytes,
                                  maxHeaderFieldCount: 200)
        let configuration = HTTP1WebSocketUpgradeChannel.Configuration(http1: http1, ws: webSocket)
        return HTTPServerBuilder { responder in
            GuardedHTTPChannel(
                base: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: configuration),
                ledger: ledger, limits: limits, refusals: refusals, tls: tls, logger: logger
            )
        }
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let address = channel.remoteAddress?.ipAddress ?? "?"
        switch ledger.admit(address) {
        case .admitted:
            let ledger = ledger
            let guardHandler = ConnectionGuard(limits: limits, refusals: refusals, logger: self.logger) { ledger.release(address) }
            do {
                if let bytes = limits.sendBufferBytes {
                    try channel.syncOptions?.setOption(.socketOption(.so_sndbuf), value: SocketOptionValue(bytes))
                }
                if let tls {
                    let plain = refusals.httpsRequired
                    try channel.pipeline.syncOperations.addHandler(PlainHTTPRefusal { plain.increment() })
                    try tls.addServerHandler(to: channel)
                    let counter = refusals.tlsHandshakeTimeout
                    try channel.pipeline.syncOperations.addHandler(
                        TLSHandshakeDeadline(timeout: limits.headerReadTimeout) { counter.increment() }
                    )
                }
                try channel.pipeline.syncOperations.addHandler(guardHandler)
            } catch {
                ledger.release(address)
                return channel.eventLoop.makeFailedFuture(error)
            }
            return base.setup(channel: channel, logger: logger).map { .admitted($0) }
        case .serverFull:
            refusals.serverFull.increment()
            return refuse(channel, APIError(.serviceUnavailable, code: "server_full",
                                            message: "this server has no room for more connections; try again later"))
        case .addressFull:
            refusals.addressFull.increment()
            return refuse(channel, APIError(.tooManyRequests, code: "too_many_connections",
                                            message: "too many open connections from your address (at most \(ledger.maxPerAddress))"))
        }
    }

    func handle(value: Value, logger: Logger) async {
        switch value {
        case let .admitted(inner):
            var quiet = logger
            quiet.handler = QuietEarlyCloses(base: logger.handler)
            await base.handle(value: inner, logger: quiet)
        case let .refused(channel):
            try? await channel.closeFuture.get()
        }
    }

    private func refuse(_ channel: any Channel, _ error: APIError) -> EventLoopFuture<Value> {
        logger.debug("connection refused: \(error.code)")
        do {
            if let tls {
                // The client expects TLS: the refusal goes out encrypted, after a handshake that must be quick.
                try tls.addServerHandler(to: channel)
                try channel.pipeline.syncOperations.addHandler(
                    TLSHandshakeDeadline(timeout: min(limits.headerReadTimeout, Self.refusalHandshakeTimeout))
                )
            }
            try channel.pipeline.syncOperations.addHandler(RefusalResponder(response: error.rawHTTPResponse()))
        } catch {
            channel.close(promise: nil)
        }
        return channel.eventLoop.makeSucceededFuture(.refused(channel))
    }
}

/// Answers a refused connection with one response as soon as it is active and closes it once the bytes are out;
/// whatever the client sends is never read.
private final class RefusalResponder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var response: ByteBuffer?

    init(response: ByteBuffer) {
        self.response = response
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { answer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        answer(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    private func answer(context: ChannelHandlerContext) {
        guard let response else { return }
        self.response = nil
        context.writeAndFlush(wrapOutboundOut(response)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
