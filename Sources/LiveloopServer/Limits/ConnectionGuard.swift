import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes
import Prometheus

/// The first handler of every HTTP-port connection, in front of the HTTP parser: it holds the connection to
/// `HTTPLimits` while the rest of the pipeline only sees what passed.
///
/// - A request head must arrive whole within `headerReadTimeout` of the connection opening (or of its first byte, for
///   later requests on a kept-alive connection) and within `maxRequestHeadBytes`: otherwise 408 or 431 and a close.
/// - A connection whose outbound buffer stays full for `slowConsumerTimeout` is closed, which frees what the server
///   queued for it (a WebSocket viewer that stopped reading, a slow segment download).
/// - A refused WebSocket upgrade gets the JSON error its route produced instead of the upgrader's bare 400
///   (`refuseUpgrade(with:)`).
/// - It gives the connection's slot back to the `ConnectionLedger` when the connection closes.
///
/// After a WebSocket upgrade it stays in place and only watches writability.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Sent down the pipeline by `RequestEndObserver` when a response is complete: the next bytes start a new head.
    struct RequestEnded {}

    private let limits: HTTPLimits
    private let refusals: HTTPRefusalCounters
    private let release: @Sendable () -> Void
    private let logger: Logger
    /// Non-nil while a request head is being read.
    private var head: RequestHeadScanner?
    private var headTimer: Scheduled<Void>?
    private var slowTimer: Scheduled<Void>?
    /// A response to write in place of whatever the pipeline writes next (a refused upgrade's JSON error).
    private var substitute: ByteBuffer?
    private var refusing = false
    private var released = false
    /// Set once the server has answered 101 Switching Protocols: from then on the bytes are WebSocket frames.
    private var frames: WebSocketMaskCheck?
    /// A request head is complete and its response has not started.
    private var awaitingResponse = false

    init(limits: HTTPLimits, refusals: HTTPRefusalCounters, logger: Logger, release: @escaping @Sendable () -> Void) {
        self.limits = limits
        self.refusals = refusals
        self.logger = logger
        self.release = release
    }

    func handlerAdded(context: ChannelHandlerContext) {
        head = RequestHeadScanner(limit: limits.maxRequestHeadBytes)
        armHeadTimer(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopTimers()
        giveBack()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTimers()
        giveBack()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refusing else { return }
        if var check = frames {
            let verdict = check.scan(unwrapInboundIn(data))
            frames = check
            if verdict == .unmasked {
                // RFC 6455 §5.1: close with 1002 (protocol error); nothing of this frame reaches the application.
                refusing = true
                refusals.unmaskedFrame.increment()
                logger.info("WebSocket closed: an unmasked frame from the client")
                let close = ByteBuffer(bytes: [0x88, 0x02, 0x03, 0xEA])
                context.writeAndFlush(wrapOutboundOut(close)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                return
            }
        } else if var scanner = head {
            let bytes = unwrapInboundIn(data)
            if headTimer == nil { armHeadTimer(context: context) }
            let verdict = scanner.scan(bytes)
            head = scanner
            switch verdict {
            case .incomplete:
                break
            case .complete:
                head = nil
                awaitingResponse = true
                headTimer?.cancel()
                headTimer = nil
            case .tooLarge:
                refusals.headTooLarge.increment()
                refuse(context: context, APIError(.requestHeaderFieldsTooLarge, code: "header_too_large",
                                                  message: "the request head is over \(limits.maxRequestHeadBytes) bytes"))
                return
            }
        }
        context.fireChannelRead(data)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            slowTimer?.cancel()
            slowTimer = nil
        } else if slowTimer == nil {
            let timeout = limits.slowConsumerTimeout
            let logger = logger
            let counter = refusals.slowClient
            slowTimer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) {
                counter.increment()
                logger.info("connection closed: the client read nothing for \(timeout)")
                context.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if refusing {
            promise?.succeed()
            return
        }
        if let response = substitute {
            substitute = nil
            promise?.succeed()
            refusing = true
            context.writeAndFlush(wrapOutboundOut(response)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        if awaitingResponse {
            // The first bytes after a request head are the response's status line.
            awaitingResponse = false
            if Self.isSwitchingProtocols(unwrapOutboundIn(data)) { frames = WebSocketMaskCheck() }
        }
        context.write(data, promise: promise)
    }

    private static let switchingProtocols = Array("HTTP/1.1 101".utf8)

    private static func isSwitchingProtocols(_ bytes: ByteBuffer) -> Bool {
        bytes.readableBytesView.starts(with: switchingProtocols)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if event is RequestEnded {
            // The next request's head is timed from its first byte; between requests the idle timeout applies.
            head = RequestHeadScanner(limit: limits.maxRequestHeadBytes)
            promise?.succeed()
        } else {
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    /// Answers the upgrade request this connection is making with `error` (as JSON) instead of the upgrader's reply.
    func refuseUpgrade(with error: APIError) {
        substitute = error.rawHTTPResponse()
    }

    /// Writes `error` as the whole answer and closes the connection, reading nothing more.
    private func refuse(context: ChannelHandlerContext, _ error: APIError) {
        refusing = true
        stopTimers()
        logger.info("connection refused: \(error.code)")
        context.writeAndFlush(wrapOutboundOut(error.rawHTTPResponse())).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    private func armHeadTimer(context: ChannelHandlerContext) {
        headTimer?.cancel()
        let timeout = limits.headerReadTimeout
        headTimer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) { [self] in
            headTimer = nil
            guard head != nil, !refusing else { return }
            refusals.headTimeout.increment()
            refuse(context: context, APIError(.requestTimeout, code: "request_timeout",
                                              message: "the request head did not arrive within \(timeout)"))
        }
    }

    private func stopTimers() {
        headTimer?.cancel()
        headTimer = nil
        slowTimer?.cancel()
        slowTimer = nil
    }

    private func giveBack() {
        guard !released else { return }
        released = true
        release()
    }
}

/// Sits after the HTTP codec and tells the `ConnectionGuard` when a request is over — its response written in full
/// and its body read to the end — so the guard reads the next request's head afresh. A response can end before its
/// request's body has arrived (a 401 or 409 answered from the head alone); the rest of that body is still this
/// request's, not the start of the next head.
final class RequestEndObserver: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// A request's head has come and its end has not.
    private var readingRequest = false
    /// The response has ended while its request was still being read.
    private var responseEnded = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            readingRequest = true
        case .end:
            readingRequest = false
        case .body:
            break
        }
        let ended = !readingRequest && responseEnded
        if ended { responseEnded = false }
        context.fireChannelRead(data)
        if ended { context.triggerUserOutboundEvent(ConnectionGuard.RequestEnded(), promise: nil) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let ended = if case .end = unwrapOutboundIn(data) { true } else { false }
        context.write(data, promise: promise)
        guard ended else { return }
        if readingRequest {
            responseEnded = true
        } else {
            context.triggerUserOutboundEvent(ConnectionGuard.RequestEnded(), promise: nil)
        }
    }
}
