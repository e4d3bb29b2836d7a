import Foundation
import HTTPTypes
import Hummingbird
import Interaction

/// REST access to a room: `POST /api/v1/channels/CHANNEL/messages` takes any client message (host actions above all)
/// from any token holder (viewer, moderator, host) or the admin key — never a guest — and answers with the same
/// `ack`/`error` envelope the WebSocket would; `GET …/room` returns the caller's snapshot; `GET …/offers` (staff)
/// the offers the room has shown with their click counts, and `GET …/sponsors` (staff) the sponsored polls and quizzes
/// with the clicks on their sponsors.
///
/// Every request goes through the room like a WebSocket one: the same admission (bans, timeouts), the same per-user
/// buckets. A per-user REST bucket (`RoomHost.restRate`) stands in for the WebSocket's per-connection one.
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

    private func resolve(_ request: Request, _ context: LiveloopRequestContext) async throws -> (RoomHost, Identity) {
        let channel = context.parameters.get("channel") ?? ""
        // The caller is checked first: a client without a token must not make the server load (rebuild) a room.
        let identity = try await authenticator.identity(for: request, channel: channel, allowGuest: false)
        guard let host = try await rooms.room(for: channel) else { throw APIError.notFound("no channel \"\(channel)\"") }
        return (host, identity)
    }

    private func message(_ request: Request, _ context: LiveloopRequestContext) async throws -> Response {
        let (host, identity) = try await resolve(request, context)
        let body = try await request.body.collect(upTo: WebSocketGateway.maximumMessageBytes + 1)
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
        default: .badRequest
        }
    }
}
