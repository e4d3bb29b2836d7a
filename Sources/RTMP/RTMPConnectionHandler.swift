import Logging
import NIOCore

/// The NIO shell around one RTMP server connection: it feeds bytes to the handshake, the chunk decoder and the
/// `ServerSession`, tells `RTMPLiveness` about progress and performs the actions they return. Any `RTMPError`, and a
/// liveness verdict to close, closes this connection with one log line.
///
/// Until the stream key is accepted the decoder runs with `ChunkDecoder.Limits.beforePublish`; media that arrives
/// before then is dropped by the session, so a connection without a key holds a few KiB at most.
final class RTMPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var handshake = ServerHandshake()
    private var decoder = ChunkDecoder(limits: .beforePublish)
    private var encoder = ChunkEncoder()
    private var session = ServerSession()
    private var liveness: RTMPLiveness
    private var livenessCheck: Scheduled<Void>?
    private var inbound: ByteBuffer?
    private var sink: (any RTMPPublishSink)?
    private var closed = false
    private let publishLimits: ChunkDecoder.Limits
    private let connectionLimits: RTMPConnectionLimits
    private let authorizer: any RTMPPublishAuthorizer
    private var logger: Logger

    init(authorizer: any RTMPPublishAuthorizer, limits: ChunkDecoder.Limits, connectionLimits: RTMPConnectionLimits, logger: Logger) {
        self.authorizer = authorizer
        self.publishLimits = limits
        self.connectionLimits = connectionLimits
        self.liveness = RTMPLiveness(limits: connectionLimits, openedAt: .now())
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        logger[metadataKey: "remote"] = "\(context.channel.remoteAddress?.description ?? "?")"
        liveness = RTMPLiveness(limits: connectionLimits, openedAt: .now())
        scheduleLivenessCheck(context: context)
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
        livenessCheck?.cancel()
        livenessCheck = nil
        sink?.publisherDisconnected()
        sink = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("RTMP connection error: \(error)")
        context.close(promise: nil)
    }

    // MARK: Liveness

    private func scheduleLivenessCheck(context: ChannelHandlerContext) {
        guard !closed else { return }
        switch liveness.verdict(at: .now()) {
        case let .close(reason):
            logger.info("RTMP connection closed: \(reason)")
            closeNow(context: context)
        case let .open(until: deadline):
            livenessCheck?.cancel()
            livenessCheck = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
                livenessCheck = nil
                scheduleLivenessCheck(context: context)
            }
        }
    }

    // MARK: Input

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
                    liveness.progressed(at: .now())
                    out.writeImmutableBuffer(bytes)
                    if case .complete = try handshake.feed(&buffer, allocator: context.channel.allocator) {
                        liveness.progressed(at: .now())
                    }
                case .complete:
                    liveness.progressed(at: .now())
                }
            }
            if handshake.state == .done {
                var progressed = true
                while progressed, !closed {
                    if let message = try decoder.decodeChunk(&buffer, progressed: &progressed) {
                        liveness.progressed(at: .now())
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
        livenessCheck?.cancel()
        livenessCheck = nil
        sink?.publisherDisconnected()
        sink = nil
        inbound = nil
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
                // The session emits media only while publishing, which begins after `sink` is set.
                sink?.handle(event)
            case .unpublished:
                logger.info("RTMP publisher stopped")
                sink?.publisherDisconnected()
                sink = nil
                liveness.unpublished(at: .now())
                scheduleLivenessCheck(context: context)
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
            decoder.raiseLimits(to: publishLimits)
            liveness.publishAccepted(at: .now())
            scheduleLivenessCheck(context: context)
            perform(session.publishAuthorized(), context: context, out: &out)
            logger.info("RTMP publisher started")
        case let .refuse(code, description):
            logger.info("RTMP publish refused: \(code)")
            perform(session.publishRefused(code: code, description: description), context: context, out: &out)
        }
        flush(&out, context: context)
        process(context: context)
    }
}
