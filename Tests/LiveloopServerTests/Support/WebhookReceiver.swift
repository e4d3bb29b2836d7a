import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A local HTTP server standing in for a customer's webhook endpoint. It checks every request's
/// `Liveloop-Signature` on its own (HMAC-SHA256 over "t.body" with the secret it is given, the timestamp within five
/// minutes), records what came, and answers with the next scripted status (then `defaultStatus`) and `answerBody`.
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable {
        var path: String
        var body: Data
        var signature: String
        /// Whether the signature and timestamp checked out against the secret.
        var verified: Bool
        var status: Int
        var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }
        var type: String? { json["type"] as? String }
        var data: [String: Any] { json["data"] as? [String: Any] ?? [:] }
    }

    private struct State {
        var secret = ""
        var script: [Int] = []
        var defaultStatus = 200
        var answerBody = "{}"
        var deliveries: [Delivery] = []
    }

    private let state = Mutex(State())
    private let channel: any Channel
    var port: Int { channel.localAddress?.port ?? 0 }
    var url: String { "http://127.0.0.1:\(port)/hook" }

    private init(channel: any Channel) { self.channel = channel }

    static func start(port: Int = 0) async throws -> WebhookReceiver {
        let box = Mutex<WebhookReceiver?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler { head, body in
                        box.withLock { $0 }?.handle(head, body) ?? (503, "{}")
                    })
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        let receiver = WebhookReceiver(channel: channel)
        box.withLock { $0 = receiver }
        return receiver
    }

    func stop() async {
        try? await channel.close()
    }

    func configure(secret: String? = nil, script: [Int]? = nil, defaultStatus: Int? = nil, answerBody: String? = nil) {
        state.withLock { state in
            if let secret { state.secret = secret }
            if let script { state.script = script }
            if let defaultStatus { state.defaultStatus = defaultStatus }
            if let answerBody { state.answerBody = answerBody }
        }
    }

    var deliveries: [Delivery] { state.withLock { $0.deliveries } }

    func deliveries(ofType type: String) -> [Delivery] { deliveries.filter { $0.type == type } }

    private func handle(_ head: HTTPRequestHead, _ body: Data) -> (Int, String) {
        let signature = head.headers.first(name: "Liveloop-Signature") ?? ""
        return state.withLock { state in
            let status = state.script.isEmpty ? state.defaultStatus : state.script.removeFirst()
            let verified = Self.verify(signature, body: body, secret: state.secret)
            state.deliveries.append(Delivery(path: head.uri, body: body, signature: signature, verified: verified, status: status))
            return (status, state.answerBody)
        }
    }

    /// The receiver's own check, written from docs/webhooks.md: split `t=…,v1=…`, recompute, compare, bound the age.
    static func verify(_ header: String, body: Data, secret: String) -> Bool {
        var fields: [String: String] = [:]
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
        }
        guard let t = fields["t"], let timestamp = Int(t), let v1 = fields["v1"],
              abs(Int(Date().timeIntervalSince1970) - timestamp) <= 300 else { return false }
        var message = Data("\(t).".utf8)
        message.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).map { String(format: "%02x", $0) }.joined() == v1
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let respond: @Sendable (HTTPRequestHead, Data) -> (Int, String)
        var head: HTTPRequestHead?
        var body = Data()

        init(respond: @escaping @Sendable (HTTPRequestHead, Data) -> (Int, String)) { self.respond = respond }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case let .head(head):
                self.head = head
                body = Data()
            case var .body(buffer):
                body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
            case .end:
                guard let head else { return }
                let (status, text) = respond(head, body)
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: "\(text.utf8.count)")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .init(statusCode: status), headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                self.head = nil
            }
        }
    }
}
