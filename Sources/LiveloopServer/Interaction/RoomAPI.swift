import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Interaction
import NIOCore
import NIOHTTP1
import Storage

/// REST access to a room: `POST /api/v1/channels/CHANNEL/messages` takes any client message (host actions above all)
/// from any token holder (viewer, moderator, host) or the admin key — never a guest — and answers with the same
/// `ack`/`error` envelope the WebSocket would; `GET …/room` returns the caller's snapshot; `GET …/offers` (staff)
/// the offers the room has shown with their click counts, and `GET …/sponsors` (staff) the sponsored polls and quizzes
/// with the clicks on their sponsors.
///
/// Every request goes through the room like a WebSocket one: the same admission (bans, timeouts), the same per-user
/// buckets. A per-user REST bucket (`RoomHost.restRate`) stands in for the WebSocket's per-connection one.
///
/// In a cluster, a node that follows the room (docs/cluster.md) passes the request on to the room's node as it came
/// (after checking the caller itself) and answers with what that node answered.
struct RoomAPI {
    /// The body of `GET …/offers`.
    struct OfferClicksBody: Encodable {
        var offers: [Offers.ClickCount]
    }

    /// The body of `GET …/sponsors`.
    struct SponsorClicksBody: Encodable {
        var sponsors: [SponsorClicks.ClickCount]
    }

    let rooms: RoomRegistry
    let authenticator: Authenticator
    let cluster: ClusterNode?

    func register(on router: Router<LiveloopRequestContext>) {
        let group = router.group("api/v1/channels/:channel")
        group.post("messages") { request, context in try await message(request, context) }
        group.get("room") { request, context in
            let (host, identity) = try await resolve(request, context)
            return try jsonResponse(.ok, host.snapshot(for: identity))
        }
        group.get("offers") { request, context in
            let (host, identity) = try await resolve(request, context)
            guard identity.role.isStaff else {
                throw APIError(.forbidden, code: "forbidden", message: "offer clicks are for the channel's staff")
            }
            return try jsonResponse(.ok, OfferClicksBody(offers: host.offerClicks))
        }
        group.get("sponsors") { request, context in
            let (host, identity) = try await resolve(request, context)
            guard identity.role.isStaff else {
                throw APIError(.forbidden, code: "forbidden", message: "sponsor clicks are for the channel's staff")
            }
            return try jsonResponse(.ok, SponsorClicksBody(sponsors: host.sponsorClicks))
        }
    }

    /// The room and the caller; a followed room's request goes to its node (`RoomNodeAnswer` carries the answer).
    private func resolve(_ request: Request, _ context: LiveloopRequestContext, body: ByteBuffer? = nil) async throws -> (RoomHost, Identity) {
        let channel = context.parameters.get("channel") ?? ""
        // The caller is checked first: a client without a token must not make the server load (rebuild) a room.
        let identity = try await authenticator.identity(for: request, channel: channel, allowGuest: false)
        switch try await rooms.resolve(channel) {
        case nil:
            throw APIError.notFound("no channel \"\(channel)\"")
        case let .led(host):
            return (host, identity)
        case let .followed(follower):
            guard let cluster else { throw APIError(.serviceUnavailable, code: "unavailable", message: "the room is on another node") }
            throw RoomNodeAnswer(response: try await Self.pass(request, body: body, to: follower.leader.address, client: cluster.client))
        }
    }

    /// The room node's answer to a request passed on to it, thrown past the route's own handling to be returned.
    struct RoomNodeAnswer: Error, HTTPResponseError {
        let response: Response
        var status: HTTPResponse.Status { response.status }
        func response(from request: Request, context: some RequestContext) throws -> Response { response }
    }

    /// Sends `request` to the node at `address` as it came (its path, query, token and body) and returns its answer.
    static func pass(_ request: Request, body: ByteBuffer?, to address: String, client: HTTPClient) async throws -> Response {
        var outbound = HTTPClientRequest(url: address + request.uri.description)
        outbound.method = .init(rawValue: request.method.rawValue)
        for field in request.headers where [.authorization, .contentType, .accept].contains(field.name) {
            outbound.headers.add(name: field.name.rawName, value: field.value)
        }
        if let body { outbound.body = .bytes(body) }
        let answer: HTTPClientResponse
        do {
            answer = try await client.execute(outbound, timeout: .seconds(10))
        } catch {
            throw APIError(.serviceUnavailable, code: "unavailable", message: "the room's node did not answer; try again")
        }
        let bytes = try await answer.body.collect(upTo: 8 << 20)
        var headers = HTTPFields()
        if let type = answer.headers.first(name: "content-type") { headers[.contentType] = type }
        return Response(status: .init(code: Int(answer.status.code)), headers: headers, body: .init(byteBuffer: bytes))
    }

    private func message(_ request: Request, _ context: LiveloopRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: WebSocketGateway.maximumMessageBytes + 1)
        let (host, identity) = try await resolve(request, context, body: body)
        let decoded = ClientRequest.decode(Data(body.readableBytesView), maxBytes: WebSocketGateway.maximumMessageBytes)
        let envelope: ServerEnvelope?
        switch decoded {
        case let .failure(rejection):
            envelope = rejection.reply
        case var .success(clientRequest):
            // REST always answers, so every request gets an id.
            if clientRequest.id == nil { clientRequest.id = "rest" }
            guard host.admitREST(identity) else {
                envelope = ServerEnvelope(id: clientRequest.id, .error(.init(InteractionError(.rateLimited, "too many requests; slow down"))))
                break
            }
            let finalRequest = clientRequest
            envelope = await withCheckedContinuation { continuation in
                host.handle(finalRequest, from: identity, sender: nil) { continuation.resume(returning: $0) }
            }
        }
        guard let envelope else { return Response(status: .noContent) }
        var status = HTTPResponse.Status.ok
        if case let .error(error) = envelope.message {
            status = Self.status(for: error.code)
        }
        return try jsonResponse(status, envelope)
    }

    static func status(for code: ErrorCode) -> HTTPResponse.Status {
        switch code {
        case .forbidden, .banned, .timedOut: .forbidden
        case .notFound: .notFound
        case .rateLimited, .slowMode: .tooManyRequests
        case .tooLarge: .contentTooLarge
        case .conflict, .alreadyVoted, .alreadyAnswered, .invalidState: .conflict
        case .unavailable: .serviceUnavailable
        default: .badRequest
        }
    }
}
