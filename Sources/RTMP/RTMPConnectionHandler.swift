import Logging
import NIOCore

/// The NIO shell around one RTMP server connection: it feeds bytes to the handshake, the chunk decoder and the
/// `ServerSession`, and performs the actions they return. Any `RTMPError` closes this connection with one log line.
final class RTMPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Media that arrives while the stream key is being checked is held, up to this many messages.
    static let maximumPendingEvents = 512

    private var handshake = ServerHandshake()
    private var decoder: ChunkDecoder
    private var encoder = ChunkEncoder()
    private var session = ServerSession()
    private var inbound: ByteBuffer?
    private var sink: (any RTMPPublishSink)?
    private var pending: [RTMPMediaEvent] = []
    private var closed = false
    private let authorizer: any RTMPPublishAuthorizer
    private var logger: Logger

    init(authorizer: any RTMPPublishAuthorizer, limits: ChunkDecoder.Limits, logger: Logger) {
        self.authorizer = authorizer
        self.decoder = ChunkDecoder(limits: limits)
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        logger[metadataKey: "remote"] = "\(context.remoteAddress?.description ?? "?")"
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if let ack = session.received(bytes: bytes.readableBytes) {
            var out = context.channel.allocator.buffer(capacity: 32)
            encoder.encode(ack, into: &out)
            context.write(wrapOutboundOut(out), promise: nil)
        }
        if inbound == nil {
            inbound = bytes
        } else {
            inbound?.writeBuffer(&bytes)
        }
        process(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        sink?.publisherDisconnected()
        sink = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            logger.info("RTMP connection closed: idle")
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("RTMP connection error: \(error)")
        context.close(promise: nil)
    }

    private func process(context: ChannelHandlerContext) {
        guard var buffer = inbound, !closed else { return }
        inbound = nil
        var out = context.channel.allocator.buffer(capacity: 0)
        do {
            if handshake.state != .done {
                switch try handshake.feed(&buffer, allocator: context.channel.allocator) {
                case .needMoreData:
                    break
                case let .send(bytes):
                    out.writeImmutableBuffer(bytes)
                    _ = try handshake.feed(&buffer, allocator: context.channel.allocator)
                case .complete:
                    break
                }
            }
            if handshake.state == .done {
                var progressed = true
                while progressed, !closed {
                    if let message = try decoder.decodeChunk(&buffer, progressed: &progressed) {
                        let actions = try session.receive(message, decoder: &decoder)
                        perform(actions, context: context, out: &out)
                    }
                }
            }
        } catch {
            logger.warning("RTMP connection closed: \(error)")
            flush(&out, context: context)
            closeNow(context: context)
            return
        }
        if buffer.readableBytes > 0 {
            buffer.discardReadBytes()
            inbound = buffer
        }
        flush(&out, context: context)
    }

    private func flush(_ out: inout ByteBuffer, context: ChannelHandlerContext) {
        guard out.readableBytes > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        out.clear()
    }

    private func closeNow(context: ChannelHandlerContext) {
        guard !closed else { return }
        closed = true
        sink?.publisherDisconnected()
        sink = nil
        context.close(promise: nil)
    }

    private func perform(_ actions: [ServerSession.Action], context: ChannelHandlerContext, out: inout ByteBuffer) {
        for action in actions {
            switch action {
            case let .send(message):
                encoder.encode(message, into: &out)
            case let .useOutgoingChunkSize(size):
                encoder.setChunkSize(size)
            case let .authorize(app, key):
                authorize(app: app, key: key, context: context)
            case let .media(event):
                if let sink {
                    sink.handle(event)
                } else if pending.count < Self.maximumPendingEvents {
                    pending.append(event)
                } else {
                    logger.warning("RTMP connection closed: media before the stream key was checked")
                    flush(&out, context: context)
                    closeNow(context: context)
                    return
                }
            case .unpublished:
                logger.info("RTMP publisher stopped")
                sink?.publisherDisconnected()
                sink = nil
            case .close:
                flush(&out, context: context)
                closeNow(context: context)
                return
            }
        }
    }

    private func authorize(app: String, key: String, context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let authorizer = self.authorizer
        let remote = context.remoteAddress?.description ?? "?"
        let eventLoop = context.eventLoop
        Task {
            let decision = await authorizer.authorize(app: app, streamKey: key, remoteAddress: remote)
            eventLoop.execute {
                let (handler, context) = loopBound.value
                handler.authorized(decision, context: context)
            }
        }
    }

    private func authorized(_ decision: RTMPPublishDecision, context: ChannelHandlerContext) {
        guard !closed else {
            if case let .accept(sink) = decision { sink.publisherDisconnected() }
            return
        }
        var out = context.channel.allocator.buffer(capacity: 256)
        switch decision {
        case let .accept(newSink):
            sink = newSink
            perform(session.publishAuthorized(), context: context, out: &out)
            for event in pending { newSink.handle(event) }
            pending.removeAll()
            logger.info("RTMP publisher started")
        case let .refuse(code, description):
            logger.info("RTMP publish refused: \(code)")
            perform(session.publishRefused(code: code, description: description), context: context, out: &out)
        }
        flush(&out, context: context)
        process(context: context)
    }
}
