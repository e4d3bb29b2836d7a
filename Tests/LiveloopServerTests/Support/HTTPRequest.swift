import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP request with an optional bearer key and JSON body; returns the status and the body decoded as a JSON object.
func httpRequest(port: Int, _ method: HTTPMethod, _ path: String, bearer: String?, body: String? = nil) async throws -> (Int, [String: Any]?) {
    let (status, json) = try await httpJSON(port: port, method, path, bearer: bearer, body: body)
    return (status, json as? [String: Any])
}

/// One HTTP request; returns the status and the body decoded as any JSON value (an array, an object…).
func httpJSON(port: Int, _ method: HTTPMethod, _ path: String, bearer: String?, body: String? = nil) async throws -> (Int, Any?) {
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
        if let body {
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        }
        try await outbound.write(.head(head))
        if let body { try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body)))) }
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
