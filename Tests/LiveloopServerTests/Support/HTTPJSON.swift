import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP request like `httpRequest`, with the body decoded as any JSON value (a list too).
func httpJSON(port: Int, _ method: HTTPMethod, _ path: String, bearer: String?) async throws -> (Int, Any?) {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: "localhost")
        if let bearer { head.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        try await outbound.write(.head(head))
        try await outbound.write(.end(nil))
        var status = 0
        var data = ByteBuffer()
        for try await part in inbound {
            switch part {
            case let .head(h): status = Int(h.status.code)
            case var .body(b): data.writeBuffer(&b)
            case .end: return (status, try? JSONSerialization.jsonObject(with: Data(data.readableBytesView)))
            }
        }
        return (status, nil)
    }
}
