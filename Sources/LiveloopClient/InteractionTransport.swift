import Foundation
import Logging
import NIOCore
import NIOWebSocket
import Synchronization
import WSClient

/// What a transport reports to its client: each text frame as it arrives, and the end of the connection (once, and
/// only for a transport that opened).
struct InteractionTransportEvents: Sendable {
    var frame: @Sendable (ByteBuffer) -> Void
    var closed: @Sendable () -> Void
}

/// An open WebSocket carrying the interaction protocol's JSON text frames.
protocol InteractionTransport: Sendable {
    /// Queues a text frame; frames go out in the order written. A failed write ends the connection.
    func write(_ text: ByteBuffer)
    /// Sends a close frame and ends the connection; `closed` follows.
    func close() async
}

/// Where a client connects: the parts of a `ws://` or `wss://` URL, plus the credentials.
struct InteractionEndpoint: Sendable, Hashable {
    var secure: Bool
    var host: String
    var port: Int
    /// The path and query, `lastSeq` included, without the token.
    var target: String
    var token: String?

    init(url: String, token: String?, lastSeq: UInt64?) throws(InteractionClientError) {
        guard var components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              let host = components.host, !host.isEmpty
        else { throw .invalidURL(url) }
        switch scheme {
        case "ws", "http": secure = false
        case "wss", "https": secure = true
        default: throw .invalidURL(url)
        }
        self.host = host
        port = components.port ?? (secure ? 443 : 80)
        var items = (components.queryItems ?? []).filter { $0.name != "lastSeq" && $0.name != "token" }
        if let lastSeq { items.append(URLQueryItem(name: "lastSeq", value: String(lastSeq))) }
        components.queryItems = items.isEmpty ? nil : items
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        target = path + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        self.token = token
    }

    /// The host as it goes into a URL (IPv6 literals in brackets).
    private var urlHost: String { host.contains(":") ? "[\(host)]" : host }

    /// The full URL with the token as `?token=` (for transports that cannot set headers).
    var urlWithToken: String {
        var url = "\(secure ? "wss" : "ws")://\(urlHost):\(port)\(target)"
        if let token, !token.isEmpty {
            let escaped = token.addingPercentEncoding(withAllowedCharacters: .urlQueryValueAllowed) ?? token
            url += (target.contains("?") ? "&" : "?") + "token=" + escaped
        }
        return url
    }
}

extension InteractionClient.Configuration.Transport {
    /// The concrete transport for an endpoint.
    func resolved(secure: Bool) -> Self {
        guard case .automatic = self else { return self }
        return secure ? .webSocketClient : .posix(localAddress: nil)
    }
}

extension CharacterSet {
    /// Characters that may stand unescaped in a query value.
    static let urlQueryValueAllowed = CharacterSet.urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+?#"))
}

/// Resumes a continuation at most once, from whichever side gets there first.
final class ResumeOnce<Value: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<Value, any Error>?>

    init(_ continuation: CheckedContinuation<Value, any Error>) {
        self.continuation = Mutex(continuation)
    }

    func resume(with result: Result<Value, any Error>) {
        continuation.withLock { pending in
            defer { pending = nil }
            return pending
        }?.resume(with: result)
    }
}

/// The `WSClient` transport: `ws://`/`wss://` with TLS and proxies as swift-websocket provides them; on Apple
/// platforms it runs on Network.framework when given a `NIOTSEventLoopGroup`. The token goes in the query.
struct InteractionWebSocketClientTransport: InteractionTransport {
    private let outbound: WebSocketOutboundWriter
    /// Frames to send, written in order by the connection's writer loop.
    private let writes: AsyncStream<ByteBuffer>.Continuation

    static func open(_ endpoint: InteractionEndpoint, configuration: InteractionClient.Configuration,
                     events: InteractionTransportEvents, logger: Logger) async throws -> InteractionWebSocketClientTransport {
        let socketConfiguration = WebSocketClientConfiguration(maxFrameSize: configuration.maximumFrameBytes)
        let url = endpoint.urlWithToken
        let group = configuration.eventLoopGroup
        let maximumFrameBytes = configuration.maximumFrameBytes
        return try await withCheckedThrowingContinuation { continuation in
            let opened = ResumeOnce(continuation)
            Task {
                do {
                    try await WebSocketClient.connect(url: url, configuration: socketConfiguration, eventLoopGroup: group,
                                                      logger: logger) { inbound, outbound, _ in
                        let (queue, writes) = AsyncStream.makeStream(of: ByteBuffer.self)
                        opened.resume(with: .success(InteractionWebSocketClientTransport(outbound: outbound, writes: writes)))
                        defer { events.closed() }
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                for await text in queue {
                                    try await outbound.write(.text(String(buffer: text)))
                                }
                            }
                            defer { writes.finish() }
                            for try await message in inbound.messages(maxSize: maximumFrameBytes) {
                                if case .text(let text) = message { events.frame(ByteBuffer(string: text)) }
                            }
                        }
                    }
                    opened.resume(with: .failure(InteractionClientError.disconnected))
                } catch let error as WebSocketClientError where error == .webSocketUpgradeFailed {
                    opened.resume(with: .failure(InteractionClientError.upgradeRefused(status: nil)))
                } catch {
                    opened.resume(with: .failure(error))
                }
            }
        }
    }

    func write(_ text: ByteBuffer) {
        writes.yield(text)
    }

    func close() async {
        writes.finish()
        try? await outbound.close(.normalClosure, reason: nil)
    }
}
