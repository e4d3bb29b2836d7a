import Foundation
import HTTPTypes
import Hummingbird
import Interaction
import Storage

/// How a viewer gets an identity without a token from the host, and what a page needs to know first. No API key:
///
/// - `GET /api/v1/channels/CHANNEL/page`: the public face of the audience settings (join mode, private, branding,
///   the origins the embed talks to) for the watch page, the embed and the SDK.
/// - `POST /api/v1/channels/CHANNEL/join` `{"name": "Ada"}` on an `open` channel: a viewer token (server-signed,
///   `JoinAPI.lifetime`) for a new `sub`. The same call with the current token as `Authorization: Bearer` renews it
///   for the same `sub` (and name, unless a new one is given), so a page keeps one identity across reloads, tabs and
///   reconnects. New joins are rate-limited per client address; names are checked by `DisplayNamePolicy`.
struct JoinAPI {
    let store: any Store
    let tokens: TokenAuthority
    let audience: AudienceDirectory
    let joins: AddressRateLimiter
    let renewals: AddressRateLimiter

    /// How long a joined viewer's token lives; the page renews it after two thirds of that.
    static let lifetime: TimeInterval = 15 * 60
    /// The `sub` prefix of viewers who joined by name (only those tokens are renewed here).
    static let subPrefix = "open-"

    init(store: any Store, tokens: TokenAuthority, audience: AudienceDirectory,
         joins: AddressRateLimiter = AddressRateLimiter(),
         renewals: AddressRateLimiter = AddressRateLimiter(limit: RateLimit(burst: 20, perSecond: 1))) {
        self.store = store
        self.tokens = tokens
        self.audience = audience
        self.joins = joins
        self.renewals = renewals
    }

    struct PageBody: Encodable {
        var channel: String
        var join: ChannelAudience.JoinMode
        var `private`: Bool
        var guestsAllowed: Bool
        var branding: ChannelAudience.Branding
        var allowedOrigins: [String]
    }

    struct JoinRequest: Decodable { var name: String? }

    struct JoinBody: Encodable {
        var token: String
        var sub: String
        var name: String
        var expiresAt: Date
        /// When the page should ask for a new token (two thirds of the lifetime).
        var renewAt: Date
    }

    func register(on router: Router<LiveloopRequestContext>) {
        let group = router.group("api/v1/channels/:channel")
        group.get("page") { _, context in
            let channel = context.parameters.get("channel") ?? ""
            guard let settings = await audience.audience(channel), let row = try await store.channel(named: channel) else {
                throw APIError.notFound("no channel \"\(channel)\"")
            }
            return try jsonResponse(.ok, PageBody(channel: channel, join: settings.join, private: settings.private,
                                                  guestsAllowed: row.allowAnonymous, branding: settings.branding,
                                                  allowedOrigins: settings.allowedOrigins))
        }
        group.post("join") { request, context in try await join(request, context) }
    }

    private func join(_ request: Request, _ context: LiveloopRequestContext) async throws -> Response {
        let channel = context.parameters.get("channel") ?? ""
        guard let settings = await audience.audience(channel) else { throw APIError.notFound("no channel \"\(channel)\"") }
        guard settings.join == .open else {
            throw APIError(.forbidden, code: "join_closed", message: settings.join == .signed
                ? "this channel signs its viewers in through its own site (a token signed with the channel key)"
                : "this channel is watch-only: viewers watch as guests")
        }
        let address = context.remoteAddress?.ipAddress ?? "unknown"
        let ask = try await request.decode(as: JoinRequest.self, context: context)
        let now = Date()
        var sub = Self.subPrefix + UUID().uuidString.lowercased()
        var previousName: String?
        if let bearer = Self.bearer(request) {
            guard renewals.admit(address, at: now) else { throw Self.slowDown }
            // A renewal: the token must be one this endpoint minted for this channel, and still valid.
            guard let identity = try? await tokens.identity(token: bearer, channel: channel, at: now),
                  identity.role == .viewer, identity.sub.hasPrefix(Self.subPrefix) else {
                throw APIError(.unauthorized, code: "unauthorized", message: "that token cannot be renewed here (expired, revoked, or not a joined viewer's); join again")
            }
            sub = identity.sub
            previousName = identity.name
        } else {
            guard joins.admit(address, at: now) else { throw Self.slowDown }
        }
        let name: String
        if let asked = ask.name {
            let filterWords = (try? await store.channelSettings(channel: channel)).flatMap { $0 }
                .flatMap { try? JSONDecoder().decode(ChannelSettings.self, from: $0) }?.filterWords ?? []
            let policy = DisplayNamePolicy(filterWords: filterWords, channel: channel, staffNames: settings.staffNames)
            do {
                name = try policy.check(asked)
            } catch {
                throw Self.apiError(error)
            }
        } else if let previousName {
            name = previousName
        } else {
            throw APIError(.badRequest, code: "invalid_name", message: "give a display name: {\"name\": \"…\"}")
        }
        let expires = now.addingTimeInterval(Self.lifetime)
        let claims = LiveloopClaims(sub: sub, name: name, role: .viewer, channel: channel, expires: expires, issuedAt: now)
        let token = try await tokens.mint(claims)
        return try jsonResponse(.ok, JoinBody(token: token, sub: sub, name: name, expiresAt: expires,
                                              renewAt: now.addingTimeInterval(Self.lifetime * 2 / 3)))
    }

    static var slowDown: APIError {
        var error = APIError(.tooManyRequests, code: "rate_limited", message: "too many joins from your address; try again in a few seconds")
        error.extraHeaders[.retryAfter] = "6"
        return error
    }

    static func apiError(_ refusal: DisplayNamePolicy.Refusal) -> APIError {
        switch refusal {
        case .length: APIError(.badRequest, code: "invalid_name", message: "a display name is 1–\(DisplayNamePolicy.maximumLength) characters")
        case .characters: APIError(.badRequest, code: "invalid_name", message: "a display name may hold letters, digits, spaces and - _ . ' only")
        case .blockedWord: APIError(.badRequest, code: "name_blocked", message: "that name contains a word this channel does not allow")
        case .impersonation: APIError(.badRequest, code: "name_reserved", message: "that name is kept for the channel's staff; pick another")
        }
    }

    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else { return nil }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}
