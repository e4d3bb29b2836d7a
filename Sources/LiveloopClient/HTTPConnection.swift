import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 client connection with keep-alive, for LL-HLS readers in benchmarks and tests: one request at a
/// time, the body handed over piece by piece as it arrives, so a reader can time each chunk of a streamed part.
public struct HTTPConnection {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: ByteBuffer

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    public enum ClientError: Error { case connectionClosed, unexpectedPart }

    private var inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    private let host: String

    /// Opens a connection, runs `body` with it, and closes it.
    public static func with<T: Sendable>(
        host: String, port: Int, _ body: (inout HTTPConnection) async throws -> T
    ) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = HTTPConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound, host: host)
            return try await body(&connection)
        }
    }

    /// GETs `path`; `onBody` sees each body piece as it arrives (the returned body holds them all too).
    public mutating func get(_ path: String, onBody: (ByteBuffer) -> Void = { _ in }) async throws -> Response {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: host)
        try await outbound.write(contentsOf: [.head(head), .end(nil)])
        var response = Response(status: 0, headers: [], body: ByteBuffer())
        while let part = try await inbound.next() {
            switch part {
            case let .head(head):
                response.status = Int(head.status.code)
                response.headers = head.headers.map { ($0.name, $0.value) }
            case let .body(buffer):
                onBody(buffer)
                var buffer = buffer
                response.body.writeBuffer(&buffer)
            case .end:
                return response
            }
        }
        throw ClientError.connectionClosed
    }
}
