import NIOCore
import NIOPosix
import Synchronization

/// Many raw TCP clients from one loopback source address (127.0.0.x), each sending what it is told and recording what
/// the server answered first and whether it closed the connection — an attacker's sockets, for the limits tests.
final class TCPCrowd: Sendable {
    private let channels: Mutex<[any Channel]> = Mutex([])
    private let records: Mutex<[Int: Record]> = Mutex([:])

    struct Record: Sendable {
        var received: [UInt8] = []
        var closed = false
        /// The status line of the first response, if one came.
        var statusCode: Int? {
            let line = received.prefix { $0 != UInt8(ascii: "\r") }
            let parts = String(decoding: line, as: UTF8.self).split(separator: " ")
            return parts.count >= 2 && parts[0].hasPrefix("HTTP/") ? Int(parts[1]) : nil
        }
        var body: String {
            guard let end = received.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound else { return "" }
            return String(decoding: received[end...], as: UTF8.self)
        }
    }

    /// Opens `count` connections from `source` to `port`, sending `greeting` on each once connected.
    static func connect(count: Int, from source: String, to port: Int, sending greeting: [UInt8] = [],
                        receiveBuffer: Int? = nil) async throws -> TCPCrowd {
        let crowd = TCPCrowd()
        for index in 0..<count {
            var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(to: try SocketAddress(ipAddress: source, port: 0))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Recorder(index: index, crowd: crowd))
                    }
                }
            if let receiveBuffer {
                bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer))
                    .channelOption(.autoRead, value: false)
            }
            let channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
            if !greeting.isEmpty { try await channel.writeAndFlush(ByteBuffer(bytes: greeting)) }
            crowd.channels.withLock { $0.append(channel) }
        }
        return crowd
    }

    /// Sends more bytes on every connection still open.
    func sendAll(_ bytes: [UInt8]) async {
        for channel in channels.withLock({ $0 }) where channel.isActive {
            try? await channel.writeAndFlush(ByteBuffer(bytes: bytes))
        }
    }

    var snapshot: [Record] { records.withLock { Array($0.values) } }
    var closedCount: Int { snapshot.filter(\.closed).count }
    func count(status: Int) -> Int { snapshot.filter { $0.statusCode == status }.count }

    func close() async {
        for channel in channels.withLock({ $0 }) { try? await channel.close() }
    }

    fileprivate func record(_ index: Int, _ change: (inout Record) -> Void) {
        records.withLock { change(&$0[index, default: Record()]) }
    }

    private final class Recorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let index: Int
        let crowd: TCPCrowd

        init(index: Int, crowd: TCPCrowd) {
            self.index = index
            self.crowd = crowd
        }

        func channelActive(context: ChannelHandlerContext) {
            crowd.record(index) { _ in }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            crowd.record(index) { record in
                if record.received.count < 4096 { record.received += bytes.readableBytesView.prefix(4096 - record.received.count) }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            crowd.record(index) { $0.closed = true }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
