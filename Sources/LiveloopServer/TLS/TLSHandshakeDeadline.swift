import NIOCore
import NIOTLS

/// Closes a connection whose TLS handshake has not completed within `timeout` of the connection opening, and removes
/// itself once the handshake is done.
///
/// Sits right after the `NIOSSLServerHandler`. The handlers behind it cannot do this themselves: while the handshake
/// is under way nothing they write leaves the socket, so a refusal they send (the HTTP guard's 408) would wait for a
/// handshake that never comes. The deadline is the HTTP head timeout, so a stalled handshake costs a client no more
/// than a stalled request head.
final class TLSHandshakeDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: Duration
    private let expired: @Sendable () -> Void
    private var timer: Scheduled<Void>?

    /// `expired` runs once when the deadline closes a connection (a metric, a log line).
    init(timeout: Duration, expired: @escaping @Sendable () -> Void = {}) {
        self.timeout = timeout
        self.expired = expired
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let expired = expired
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) {
            expired()
            // The TLS handler answers a close during the handshake by closing the socket: there is no session to
            // shut down.
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            timer?.cancel()
            timer = nil
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
