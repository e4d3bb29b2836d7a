import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The outbound HTTP side of webhooks and the publish hook: one signed POST of a JSON body, no redirects followed (a
/// redirect to an internal address would step around `WebhookURLPolicy`), a deadline for the whole exchange, and at
/// most `maxResponseBytes` of the answer read.
///
/// The client is made on first use and shut down by `shutdown()` (the dispatcher's, when the server stops), so a
/// server that never sends anything never holds one.
final class WebhookHTTP: Sendable {
    private let configuration: HTTPClient.Configuration
    private let current = Mutex<HTTPClient?>(nil)
    let policy: WebhookURLPolicy
    let maxResponseBytes: Int

    init(policy: WebhookURLPolicy, connectTimeout: Duration, maxResponseBytes: Int = 64 * 1024) {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                                     timeout: .init(connect: .milliseconds(Int64(connectTimeout.asSeconds * 1000))))
        configuration.connectionPool = .init(idleTimeout: .seconds(30))
        self.configuration = configuration
        self.policy = policy
        self.maxResponseBytes = maxResponseBytes
    }

    private var client: HTTPClient {
        current.withLock { client in
            if let client { return client }
            let made = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
            client = made
            return made
        }
    }

    func shutdown() async {
        let client = current.withLock { client in
            defer { client = nil }
            return client
        }
        try? await client?.shutdown()
    }

    enum Failure: Error, CustomStringConvertible {
        case refused(WebhookURLPolicy.Refusal)
        case unresolvable(String)
        case transport(String)

        var description: String {
            switch self {
            case let .refused(refusal): refusal.description
            case let .unresolvable(host): "could not resolve \(host)"
            case let .transport(message): message
            }
        }
    }

    struct Answer: Sendable {
        var status: Int
        /// The body, cut at `maxResponseBytes`.
        var body: ByteBuffer
    }

    /// POSTs `body` to `url` with a `Liveloop-Signature` made with `secret` now. `checkAddresses` false skips the
    /// private-address rule (the publish hook: an operator's own setting, often on localhost).
    func post(url: String, body: Data, secret: String, timeout: Duration, checkAddresses: Bool = true) async throws(Failure) -> Answer {
        if checkAddresses {
            let host: String
            do { host = try policy.check(url) } catch { throw .refused(error) }
            if !policy.allowPrivateAddresses, IPAddress(host) == nil {
                let addresses = await Self.resolve(host)
                guard !addresses.isEmpty else { throw .unresolvable(host) }
                do { try policy.check(resolved: addresses, host: host) } catch { throw .refused(error) }
            }
        }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Liveloop-Webhooks/1")
        request.headers.add(name: WebhookSignature.headerName,
                            value: WebhookSignature.header(body: body, secret: secret, timestamp: Int64(Date().timeIntervalSince1970)))
        request.body = .bytes(ByteBuffer(bytes: body))
        let deadline = NIODeadline.now() + .nanoseconds(Int64(timeout.asSeconds * 1e9))
        do {
            let response = try await client.execute(request, deadline: deadline)
            var collected = ByteBuffer()
            for try await var chunk in response.body {
                let room = maxResponseBytes - collected.readableBytes
                if chunk.readableBytes > room {
                    if let slice = chunk.readSlice(length: room) { collected.writeImmutableBuffer(slice) }
                    break
                }
                collected.writeBuffer(&chunk)
            }
            return Answer(status: Int(response.status.code), body: collected)
        } catch {
            throw .transport(Self.describe(error))
        }
    }

    /// A short text for the delivery log (no URL, no headers: nothing secret).
    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout: return "timed out"
            case .connectTimeout: return "connect timed out"
            case .remoteConnectionClosed: return "connection closed by the receiver"
            default: return "\(error)"
            }
        }
        if error is NIOConnectionError { return "could not connect" }
        if let error = error as? IOError { return "connection failed: \(error.description)" }
        return String(describing: error).prefix(200).description
    }

    /// The addresses `host` resolves to (getaddrinfo, on NIO's blocking thread pool); empty when it does not resolve.
    static func resolve(_ host: String) async -> [IPAddress] {
        (try? await NIOThreadPool.singleton.runIfActive { () -> [IPAddress] in
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &result) == 0 else { return [] }
            defer { freeaddrinfo(result) }
            var addresses: [IPAddress] = []
            var cursor = result
            while let entry = cursor?.pointee {
                if let address = entry.ai_addr {
                    if entry.ai_family == AF_INET {
                        address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                            var raw = v4.pointee.sin_addr
                            if let ip = IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) }) { addresses.append(ip) }
                        }
                    } else if entry.ai_family == AF_INET6 {
                        address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                            var raw = v6.pointee.sin6_addr
                            if let ip = IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) }) { addresses.append(ip) }
                        }
                    }
                }
                cursor = entry.ai_next
            }
            return addresses
        }) ?? []
    }
}
