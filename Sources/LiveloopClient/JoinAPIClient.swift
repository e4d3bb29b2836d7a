import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The two audience routes an app calls before it opens the room socket (`JoinAPI` on the server): `GET …/page` and
/// `POST …/join`. AsyncHTTPClient underneath, which runs on Linux and on Apple platforms (Network.framework there),
/// so no `FoundationNetworking` is needed; none of its types appear in the public API.
struct JoinAPIClient: Sendable {
    /// `http(s)://host[:port]`, no trailing slash.
    let server: String
    let channel: String
    var timeout: Duration = .seconds(10)

    /// The largest answer read: a join or page body is a few hundred bytes.
    static let maximumBodyBytes = 64 * 1024

    init(server: String, channel: String) throws(JoinError) {
        var base = server
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasPrefix("ws://") { base = "http://" + base.dropFirst(5) }
        if base.hasPrefix("wss://") { base = "https://" + base.dropFirst(6) }
        guard let components = URLComponents(string: base), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", components.host?.isEmpty == false
        else { throw .invalidServer(server) }
        self.server = base
        self.channel = channel
    }

    private var channelPath: String {
        "\(server)/api/v1/channels/\(channel.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? channel)"
    }

    func page() async throws(JoinError) -> ChannelPage {
        try await call(.GET, "page", body: nil, bearer: nil)
    }

    /// A new viewer (`bearer` nil, `name` required) or a renewal of `bearer` for the same `sub` (`name` optional).
    func join(name: String?, bearer: String?) async throws(JoinError) -> JoinPass {
        struct Body: Encodable { var name: String? }
        let body: Data
        do {
            body = try JSONEncoder().encode(Body(name: name))
        } catch {
            throw .unreachable("could not encode the request: \(error)")
        }
        return try await call(.POST, "join", body: body, bearer: bearer)
    }

    private func call<Answer: Decodable>(_ method: HTTPMethod, _ route: String, body: Data?, bearer: String?)
        async throws(JoinError) -> Answer {
        var request = HTTPClientRequest(url: "\(channelPath)/\(route)")
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let status: Int
        let retryAfter: String?
        let bytes: ByteBuffer
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .nanoseconds(timeout.wholeNanoseconds))
            status = Int(response.status.code)
            retryAfter = response.headers.first(name: "Retry-After")
            bytes = try await response.body.collect(upTo: Self.maximumBodyBytes)
        } catch {
            throw .unreachable("\(error)")
        }
        let data = Data(bytes.readableBytesView)
        guard status == 200 else { throw Self.refusal(status: status, body: data, retryAfter: retryAfter) }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(Answer.self, from: data)
        } catch {
            throw .unreachable("HTTP 200 with a body that is not the expected JSON: \(error)")
        }
    }

    /// An error answer as the API writes it: `{"error":{"code":…,"message":…}}`.
    static func refusal(status: Int, body: Data, retryAfter: String?) -> JoinError {
        struct Envelope: Decodable {
            struct Body: Decodable { var code: String; var message: String }
            var error: Body
        }
        if status == 429 {
            return .rateLimited(retryAfter: retryAfter.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.map { .seconds($0) })
        }
        guard let refusal = try? JSONDecoder().decode(Envelope.self, from: body) else {
            return .unreachable("HTTP \(status) without the API's JSON error body")
        }
        return .refused(status: status, code: refusal.error.code, message: refusal.error.message)
    }
}
