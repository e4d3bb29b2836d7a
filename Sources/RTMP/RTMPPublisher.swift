import MediaFormats
import NIOCore
import NIOPosix
import Synchronization

/// Why a push to an RTMP server failed.
public enum RTMPPublisherError: Error, Equatable, Sendable {
    /// The URL is not `rtmp://host[:port]/app/key`.
    case invalidURL(String)
    /// `connect` was answered with `_error`.
    case connectRefused(code: String, description: String)
    /// `createStream` or `publish` was refused (e.g. `NetStream.Publish.BadName` for a wrong key).
    case publishRefused(code: String, description: String)
    /// An error status arrived while publishing.
    case streamStopped(code: String, description: String)
    case protocolViolation(String)
    /// The server did not answer `publish` in time.
    case timedOut
    case connectionClosed
}

extension RTMPPublisherError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .invalidURL(url): "not an RTMP URL of the form rtmp://host[:port]/app/key: \(url)"
        case let .connectRefused(code, text): "connect refused: \(code) \(text)"
        case let .publishRefused(code, text): "publish refused: \(code) \(text)"
        case let .streamStopped(code, text): "stream stopped by the server: \(code) \(text)"
        case let .protocolViolation(what): "protocol violation: \(what)"
        case .timedOut: "the server did not start the stream in time"
        case .connectionClosed: "the connection closed"
        }
    }
}

/// A small RTMP push client: connects, publishes one stream, and sends media as FLV-bodied RTMP messages, each
/// written and flushed on its own with `TCP_NODELAY`, so a frame leaves the moment `send` is called.
///
/// Used by `liveloop bench latency` and by relays (multistream). The command exchange is `ClientSession`; this type
/// and its handler only move bytes. Every message goes out with a type 0 chunk header (see `ChunkEncoder`), so
/// media written from the caller and control answers written by the handler never share chunk-stream state.
public final class RTMPPublisher: Sendable {
    public let channel: any Channel
    /// The message stream the server gave us for `publish`.
    public let streamID: UInt32
    public let streamKey: String
    private let encoder: ChunkEncoder
    private let stopReason: StopReason

    private init(channel: any Channel, streamID: UInt32, streamKey: String, encoder: ChunkEncoder, stopReason: StopReason) {
        self.channel = channel
        self.streamID = streamID
        self.streamKey = streamKey
        self.encoder = encoder
        self.stopReason = stopReason
    }

    /// Why the server ended the stream, once it did (an error status or a protocol error while publishing).
    final class StopReason: Sendable {
        private let value = Mutex<(any Error)?>(nil)
        var error: (any Error)? { value.withLock { $0 } }
        func set(_ error: any Error) { value.withLock { if $0 == nil { $0 = error } } }
    }

    /// Connects to `rtmp://host[:port]/app/key` and returns once the server has started the stream.
    public static func connect(
        url: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, timeout: TimeAmount = .seconds(10)
    ) async throws -> RTMPPublisher {
        guard let target = Target(url: url) else { throw RTMPPublisherError.invalidURL(url) }
        return try await connect(host: target.host, port: target.port, app: target.app, streamKey: target.key, group: group, timeout: timeout)
    }

    /// Connects, publishes `streamKey` on `app`, and returns once the server answered `NetStream.Publish.Start`.
    /// Throws `RTMPPublisherError` when the server refuses or does not answer within `timeout`.
    public static func connect(
        host: String, port: Int, app: String, streamKey: String,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, timeout: TimeAmount = .seconds(10)
    ) async throws -> RTMPPublisher {
        try await connect(to: .host(host, port: port), app: app, streamKey: streamKey, tcURL: "rtmp://\(host):\(port)/\(app)",
                          group: group, timeout: timeout)
    }

    /// Where to connect: a name to resolve, or an address already resolved (and vetted) by the caller.
    public enum Endpoint: Sendable {
        case host(String, port: Int)
        case address(SocketAddress)
    }

    /// Connects to `endpoint`, publishes `streamKey` on `app`, and returns once the server started the stream.
    /// `prepare` runs on the new channel's event loop before the RTMP handler is added: a caller adds a TLS handler
    /// there for RTMPS (this target does not link a TLS library).
    public static func connect(
        to endpoint: Endpoint, app: String, streamKey: String, tcURL: String,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, timeout: TimeAmount = .seconds(10),
        prepare: @escaping @Sendable (any Channel) throws -> Void = { _ in }
    ) async throws -> RTMPPublisher {
        let session = ClientSession(app: app, streamKey: streamKey, tcURL: tcURL)
        let stopReason = StopReason()
        let initializer: @Sendable (any Channel) -> EventLoopFuture<(any Channel, EventLoopFuture<RTMPClientHandler.Started>)> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try prepare(channel)
                let promise = channel.eventLoop.makePromise(of: RTMPClientHandler.Started.self)
                try channel.pipeline.syncOperations.addHandler(RTMPClientHandler(session: session, started: promise, stopReason: stopReason, timeout: timeout))
                return (channel, promise.futureResult)
            }
        }
        let bootstrap = ClientBootstrap(group: group).channelOption(.socketOption(.tcp_nodelay), value: 1).connectTimeout(timeout)
        let (channel, started) = switch endpoint {
        case let .host(host, port): try await bootstrap.connect(host: host, port: port, channelInitializer: initializer)
        case let .address(address): try await bootstrap.connect(to: address, channelInitializer: initializer)
        }
        do {
            let value = try await started.get()
            return RTMPPublisher(channel: channel, streamID: value.streamID, streamKey: streamKey, encoder: value.encoder, stopReason: stopReason)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Writes one media event and flushes it. Returns the instant the write to the socket completed (read on the event
    /// loop as the write finished), which is what a latency measurement should start from. Throws the server's reason
    /// (`RTMPPublisherError.streamStopped`) when it ended the stream.
    @discardableResult
    public func send(_ event: RTMPMediaEvent) async throws -> ContinuousClock.Instant {
        guard let message = Self.message(for: event, streamID: streamID) else { return .now }
        var out = channel.allocator.buffer(capacity: message.payload.readableBytes + 32)
        encoder.encode(message, into: &out)
        do {
            return try await channel.writeAndFlush(out).map { ContinuousClock.now }.get()
        } catch {
            throw stopReason.error ?? error
        }
    }

    /// Sends `FCUnpublish` and `deleteStream`, then closes the connection.
    public func close() async {
        var out = channel.allocator.buffer(capacity: 128)
        encoder.encode(.command(["FCUnpublish", 6.0, AMF0Value.null, streamKey]), into: &out)
        encoder.encode(.command(["deleteStream", 7.0, AMF0Value.null, Double(streamID)]), into: &out)
        try? await channel.writeAndFlush(out).get()
        try? await channel.close()
    }

    /// The RTMP message carrying `event` (`@setDataFrame`, sequence headers, frames), timestamped in milliseconds:
    /// decode time / 90, with the composition offset (pts − dts) / 90 in the video tag.
    public static func message(for event: RTMPMediaEvent, streamID: UInt32) -> RTMPMessage? {
        var payload = ByteBuffer()
        switch event {
        case let .metadata(properties):
            AMF0.encode([.string("@setDataFrame"), .string("onMetaData"), .ecmaArray(properties)], into: &payload)
            return RTMPMessage(typeID: .dataAMF0, messageStreamID: streamID, chunkStreamID: ChunkStreamID.data, payload: payload)
        case let .codec(.avc(record)):
            FLVTagBody.writeVideo(.avcSequenceHeader(record), into: &payload)
            return RTMPMessage(typeID: .video, messageStreamID: streamID, chunkStreamID: ChunkStreamID.video, payload: payload)
        case let .codec(.aac(config)):
            FLVTagBody.writeAudio(.aacSequenceHeader(config), into: &payload)
            return RTMPMessage(typeID: .audio, messageStreamID: streamID, chunkStreamID: ChunkStreamID.audio, payload: payload)
        case let .frame(frame):
            let timestamp = UInt32(truncatingIfNeeded: frame.dts / 90)
            switch frame.track {
            case .video:
                let composition = Int32(clamping: (frame.pts - frame.dts) / 90)
                FLVTagBody.writeVideo(.avcNALUnits(isKeyframe: frame.isKeyframe, compositionTime: composition, data: frame.data), into: &payload)
                return RTMPMessage(typeID: .video, messageStreamID: streamID, timestamp: timestamp, chunkStreamID: ChunkStreamID.video, payload: payload)
            case .audio:
                FLVTagBody.writeAudio(.aacFrame(frame.data), into: &payload)
                return RTMPMessage(typeID: .audio, messageStreamID: streamID, timestamp: timestamp, chunkStreamID: ChunkStreamID.audio, payload: payload)
            }
        }
    }

    /// `rtmp://host[:port]/app/key`; the key may itself contain slashes and a query.
    struct Target: Equatable {
        var host: String
        var port: Int
        var app: String
        var key: String
    }
}

extension RTMPPublisher.Target {
    init?(url: String) {
        guard url.hasPrefix("rtmp://") else { return nil }
        let rest = url.dropFirst("rtmp://".count)
        let parts = rest.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[1].isEmpty, !parts[2].isEmpty else { return nil }
        let authority = parts[0].split(separator: ":", omittingEmptySubsequences: false)
        guard let host = authority.first, !host.isEmpty, authority.count <= 2 else { return nil }
        if authority.count == 2 {
            guard let port = Int(authority[1]), (1...65535).contains(port) else { return nil }
            self.port = port
        } else {
            self.port = 1935
        }
        self.host = String(host)
        self.app = String(parts[1])
        self.key = String(parts[2])
    }
}

/// The NIO shell of the push client: feeds bytes to the handshake, the chunk decoder and `ClientSession`, performs
/// the actions they return, and completes `started` when publishing begins (or fails it on any error).
final class RTMPClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Started: Sendable {
        var streamID: UInt32
        /// The encoder as it stands once publishing: the outgoing chunk size is set.
        var encoder: ChunkEncoder
    }

    private let started: EventLoopPromise<Started>
    private let stopReason: RTMPPublisher.StopReason
    private var handshake = ClientHandshake()
    private var decoder = ChunkDecoder()
    private var encoder = ChunkEncoder()
    private var session: ClientSession
    private var inbound: ByteBuffer?
    private var completed = false
    private var timeoutTask: Scheduled<Void>?
    private let timeout: TimeAmount

    init(session: ClientSession, started: EventLoopPromise<Started>, stopReason: RTMPPublisher.StopReason, timeout: TimeAmount) {
        self.session = session
        self.started = started
        self.stopReason = stopReason
        self.timeout = timeout
    }

    func channelActive(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeoutTask = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = loopBound.value
            handler.finish(.failure(RTMPPublisherError.timedOut), context: context)
        }
        context.writeAndFlush(wrapOutboundOut(handshake.start(allocator: context.channel.allocator)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        var out = context.channel.allocator.buffer(capacity: 0)
        if handshake.state == .done, let ack = session.received(bytes: bytes.readableBytes) {
            encoder.encode(ack, into: &out)
        }
        if inbound == nil {
            inbound = bytes
        } else {
            inbound?.writeBuffer(&bytes)
        }
        guard var buffer = inbound else { return }
        inbound = nil
        do {
            if handshake.state != .done {
                if let c2 = try handshake.feed(&buffer) {
                    out.writeImmutableBuffer(c2)
                    perform(session.start(), context: context, out: &out)
                }
            }
            if handshake.state == .done {
                var progressed = true
                while progressed, session.state != .failed {
                    if let message = try decoder.decodeChunk(&buffer, progressed: &progressed) {
                        perform(try session.receive(message, decoder: &decoder), context: context, out: &out)
                    }
                }
            }
        } catch {
            flush(&out, context: context)
            finish(.failure(error), context: context)
            context.close(promise: nil)
            return
        }
        if buffer.readableBytes > 0 {
            buffer.discardReadBytes()
            inbound = buffer
        }
        flush(&out, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(RTMPPublisherError.connectionClosed), context: context)
        context.fireChannelInactive()
    }

    /// A connection that never became active (refused: the channel closes before `channelActive`) still answers
    /// whoever waits for it.
    func handlerRemoved(context: ChannelHandlerContext) {
        guard !completed else { return }
        completed = true
        timeoutTask?.cancel()
        timeoutTask = nil
        stopReason.set(RTMPPublisherError.connectionClosed)
        started.fail(RTMPPublisherError.connectionClosed)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error), context: context)
        context.close(promise: nil)
    }

    private func perform(_ actions: [ClientSession.Action], context: ChannelHandlerContext, out: inout ByteBuffer) {
        for action in actions {
            switch action {
            case let .send(message):
                encoder.encode(message, into: &out)
            case let .useOutgoingChunkSize(size):
                encoder.setChunkSize(size)
            case let .publishStarted(streamID):
                // The Set Chunk Size must be on the wire before the caller's first media message.
                flush(&out, context: context)
                finish(.success(Started(streamID: streamID, encoder: encoder)), context: context)
            case let .fail(error):
                flush(&out, context: context)
                finish(.failure(error), context: context)
                context.close(promise: nil)
                return
            }
        }
    }

    private func flush(_ out: inout ByteBuffer, context: ChannelHandlerContext) {
        guard out.readableBytes > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        out = context.channel.allocator.buffer(capacity: 0)
    }

    private func finish(_ result: Result<Started, any Error>, context: ChannelHandlerContext) {
        if case let .failure(error) = result { stopReason.set(error) }
        guard !completed else { return }
        completed = true
        timeoutTask?.cancel()
        timeoutTask = nil
        switch result {
        case let .success(value):
            started.succeed(value)
        case let .failure(error):
            started.fail(error)
            context.close(promise: nil)
        }
    }
}
