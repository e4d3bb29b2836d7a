import Foundation
import HTTPTypes
import Hummingbird
import LiveMedia
import Interaction
import Storage

/// `/api/v1/channels`: create, list, rotate a key, delete, mint and revoke tokens; `/api/v1/tokens/rotate-secret`.
/// Every call needs an API key: the operator's admin key (every channel) or a tenant's key (its own channels, within
/// its scopes: `read` to look, `channels:write` to change and mint tokens). See `Principal`.
struct ChannelAPI {
    let store: any Store
    let registry: BroadcastRegistry
    let rooms: RoomRegistry
    let tokens: TokenAuthority
    /// The ingest URLs for a request that reached the server by this host (its `Host` header).
    let ingest: @Sendable (_ requestHost: String?) -> IngestEndpoints

    struct ChannelBody: Codable, Sendable {
        var name: String
        var createdAt: Date
        var live: Bool
        var rtmpURL: String
        /// Present when the server has TLS: the same ingest inside TLS.
        var rtmpsURL: String?
        /// Present where SRT ingest runs (libsrt found): `srt://HOST:PORT`, the stream key goes in `streamid`.
        var srtURL: String?
        /// WebRTC ingest (WHIP) on this server's HTTP origin, the stream key as the bearer token.
        var whipURL = "/live/whip"
        /// Where the host in these URLs came from: `configured` (`--public-host`), `request` (the host this request
        /// reached the server by), `machine` (this machine's name: a guess).
        var ingestHost: IngestEndpoints.HostSource
        var playbackURL: String
        /// The id of the tenant that owns the channel.
        var tenant: String
        /// Present only in the answer that created or rotated the key.
        var streamKey: String?
    }

    struct CreateRequest: Decodable {
        var name: String
        /// The owning tenant (id or name); only the operator's key may choose it, a tenant key creates in its own.
        var tenant: String?
    }

    /// Lengths are counted in Unicode scalars (as JSON Schema's `maxLength` counts them), not in grapheme clusters:
    /// one "character" of a letter and a thousand combining marks is a thousand scalars, and is refused.
    struct TokenRequest: Decodable {
        var role: String
        var sub: String
        var name: String?
        var ttlSeconds: Int?
    }

    struct TokenBody: Encodable {
        var token: String
        var tokenID: String
        var expiresAt: Date
    }

    /// Exactly one of: `jti` (one token by its id), `token` (one token, given whole), `sub` (every token of that user
    /// on this channel), `all: true` (every token of this channel). Covers tokens issued up to now.
    struct RevokeRequest: Decodable {
        var jti: String?
        var token: String?
        var sub: String?
        var all: Bool?
    }

    struct RevokeBody: Encodable {
        var revoked: String
        var revokedAt: Date
        /// When the revocation record may be forgotten (every token it covers has expired by then).
        var keptUntil: Date
    }

    struct RotateRequest: Decodable { var overlapSeconds: Int? }

    struct RotateBody: Encodable {
        var rotatedAt: Date
        /// Tokens signed with the replaced secret are refused from then on.
        var previousSecretAcceptedUntil: Date
    }

    func register(on router: Router<LiveloopRequestContext>) {
        let api = router.group("api/v1/channels").add(middleware: APIKeyMiddleware(store: store))
        api.get { request, context in
            let channels = if let tenant = try context.principal(.read).tenantID {
                try await store.channels(tenant: tenant)
            } else {
                try await store.channels()
            }
            let endpoints = ingest(request.head.authority)
            return try jsonResponse(.ok, channels.map { body($0, key: nil, ingest: endpoints) })
        }
        api.post { request, context in
            let principal = try context.principal(.channelsWrite)
            let create = try await request.decode(as: CreateRequest.self, context: context)
            do {
                var tenant = principal.tenantID ?? Tenant.defaultID
                if let named = create.tenant {
                    tenant = try await principal.tenant(named, in: store).id
                }
                let (channel, key) = try await store.createChannel(name: create.name, tenant: tenant)
                return try jsonResponse(.created, body(channel, key: key, ingest: ingest(request.head.authority)))
            } catch let error as StoreError {
                throw Self.apiError(error)
            }
        }
        api.get(":channel") { request, context in
            let channel = try await context.principal(.read).channel(named: context.parameters.get("channel") ?? "", in: store)
            return try jsonResponse(.ok, body(channel, key: nil, ingest: ingest(request.head.authority)))
        }
        api.post(":channel/rotate-key") { request, context in
            let name = try await context.principal(.channelsWrite).channel(named: context.parameters.get("channel") ?? "", in: store).name
            do {
                let key = try await store.rotateKey(name: name)
                guard let channel = try await store.channel(named: name) else { throw StoreError.channelNotFound(name) }
                return try jsonResponse(.ok, body(channel, key: key, ingest: ingest(request.head.authority)))
            } catch let error as StoreError {
                throw Self.apiError(error)
            }
        }
        // Mint a token for a viewer, moderator or host of this channel (how an operator's site signs its users in).
        api.post(":channel/tokens") { request, context in
            let name = try await context.principal(.channelsWrite).channel(named: context.parameters.get("channel") ?? "", in: store).name
            let ask = try await request.decode(as: TokenRequest.self, context: context)
            guard let role = Role(rawValue: ask.role), role != .guest else {
                throw APIError.badRequest("role must be viewer, moderator or host")
            }
            guard !ask.sub.isEmpty, ask.sub.unicodeScalars.count <= 128, (ask.name ?? "").unicodeScalars.count <= 64 else {
                throw APIError.badRequest("sub must be 1–128 characters and name at most 64")
            }
            let ttl = ask.ttlSeconds ?? Int(TokenAuthority.defaultLifetime)
            guard (1...Int(TokenAuthority.maximumLifetime)).contains(ttl) else {
                throw APIError.badRequest("ttlSeconds must be 1 to \(Int(TokenAuthority.maximumLifetime)) (24 hours)")
            }
            let now = Date()
            let expires = now.addingTimeInterval(Double(ttl))
            let claims = LiveloopClaims(sub: ask.sub, name: ask.name ?? ask.sub, role: role, channel: name, expires: expires, issuedAt: now)
            let token = try await tokens.mint(claims)
            return try jsonResponse(.ok, TokenBody(token: token, tokenID: claims.tokenID ?? "", expiresAt: expires))
        }
        // Take tokens back: refused at their next authentication, and their open WebSockets closed at once.
        api.post(":channel/tokens/revoke") { request, context in
            let name = try await context.principal(.channelsWrite).channel(named: context.parameters.get("channel") ?? "", in: store).name
            let ask = try await request.decode(as: RevokeRequest.self, context: context)
            let scope = try await revocationScope(ask, channel: name)
            guard let revocation = try await tokens.revoke(scope) else { throw APIError.badRequest("this server keeps no revocations") }
            await rooms.sweepRevocations()
            return try jsonResponse(.ok, RevokeBody(revoked: Self.describe(scope), revokedAt: revocation.revokedAt,
                                                    keptUntil: revocation.expiresAt))
        }
        let tokenAdmin = router.group("api/v1/tokens").add(middleware: APIKeyMiddleware(store: store))
        // A new signing secret; tokens signed with the old one keep working for the overlap, then fail.
        tokenAdmin.post("rotate-secret") { request, context in
            // The secret signs every tenant's tokens: the operator's to rotate.
            try context.principal(.admin).requireOperator("rotate the token signing secret")
            let ask = try await request.decode(as: RotateRequest.self, context: context)
            let overlap = ask.overlapSeconds ?? Int(TokenAuthority.defaultRotationOverlap)
            guard (0...Int(TokenAuthority.maximumLifetime)).contains(overlap) else {
                throw APIError.badRequest("overlapSeconds must be 0 to \(Int(TokenAuthority.maximumLifetime))")
            }
            let now = Date()
            try await tokens.rotate(overlap: TimeInterval(overlap), at: now)
            return try jsonResponse(.ok, RotateBody(rotatedAt: now, previousSecretAcceptedUntil: now.addingTimeInterval(TimeInterval(overlap))))
        }
        api.delete(":channel") { _, context in
            let name = try await context.principal(.channelsWrite).channel(named: context.parameters.get("channel") ?? "", in: store).name
            do {
                try await store.deleteChannel(name: name)
            } catch let error as StoreError {
                throw Self.apiError(error)
            }
            registry.remove(name)
            rooms.remove(name)
            try await store.deleteEvents(channel: name)
            return Response(status: .noContent)
        }
    }

    private func revocationScope(_ ask: RevokeRequest, channel: String) async throws -> Revocation.Scope {
        let given = [ask.jti != nil, ask.token != nil, ask.sub != nil, ask.all == true].filter { $0 }.count
        guard given == 1 else { throw APIError.badRequest(#"give exactly one of "jti", "token", "sub" or "all": true"#) }
        if let jti = ask.jti {
            guard !jti.isEmpty, jti.unicodeScalars.count <= 128 else { throw APIError.badRequest("jti must be 1–128 characters") }
            return .token(jti: jti)
        }
        if let token = ask.token {
            guard token.utf8.count <= 8192, let claims = await tokens.claims(of: token), let jti = claims.tokenID else {
                throw APIError.badRequest("that is not a token this server signed (revoke by sub or all instead)")
            }
            return .token(jti: jti)
        }
        if let sub = ask.sub {
            guard !sub.isEmpty, sub.unicodeScalars.count <= 128 else { throw APIError.badRequest("sub must be 1–128 characters") }
            return .subject(sub: sub, channel: channel)
        }
        return .channel(channel)
    }

    static func describe(_ scope: Revocation.Scope) -> String {
        switch scope {
        case .token(let jti): "token \(jti)"
        case .subject(let sub, let channel): "every token of \(sub) on \(channel)"
        case .channel(let channel): channel == "*" ? "every token" : "every token of channel \(channel)"
        }
    }

    func body(_ channel: Channel, key: String?, ingest: IngestEndpoints) -> ChannelBody {
        ChannelBody(
            name: channel.name, createdAt: channel.createdAt, live: registry.broadcast(channel.name)?.isLive ?? false,
            rtmpURL: ingest.rtmp, rtmpsURL: ingest.rtmps, srtURL: ingest.srt, ingestHost: ingest.hostSource, playbackURL: "/live/\(channel.name)/index.m3u8", tenant: channel.tenantID,
            streamKey: key
        )
    }

    static func apiError(_ error: StoreError) -> APIError {
        switch error {
        case .invalidChannelName: APIError(.badRequest, code: "invalid_name", message: error.description)
        case .channelExists: APIError(.conflict, code: "channel_exists", message: error.description)
        case .channelNotFound: APIError(.notFound, code: "not_found", message: error.description)
        case .notADirectory: APIError(.internalServerError, code: "storage", message: error.description)
        case .invalidTenantName: APIError(.badRequest, code: "invalid_name", message: error.description)
        case .tenantExists: APIError(.conflict, code: "tenant_exists", message: error.description)
        case .tenantNotFound, .keyNotFound: APIError(.notFound, code: "not_found", message: error.description)
        case .tenantNotEmpty: APIError(.conflict, code: "tenant_not_empty", message: error.description)
        case .defaultTenant: APIError(.conflict, code: "default_tenant", message: error.description)
        case .invalidQuota: APIError(.badRequest, code: "bad_request", message: error.description)
        case let .quotaExceeded(quota, limit):
            { var refusal = APIError(.forbidden, code: "quota_exceeded", message: error.description)
              refusal.quota = quota
              refusal.limit = limit
              return refusal }()
        case .webhookLimit: APIError(.conflict, code: "too_many_webhooks", message: error.description)
        }
    }
}

func jsonResponse(_ status: HTTPResponse.Status, _ value: some Encodable) throws -> Response {
    let encoder = JSONEncoder()
    encoder.dateEncodingStrategy = .iso8601
    encoder.outputFormatting = [.sortedKeys]
    let data = try encoder.encode(value)
    return Response(
        status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
        body: .init(byteBuffer: .init(bytes: data))
    )
}

/// Requires the admin API key as `Authorization: Bearer ak_…` or `X-API-Key: ak_…`.
struct AdminKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let store: any Store

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let key = Self.presentedKey(request), try await store.verifyAdminKey(key) else { throw APIError.unauthorized }
        return try await next(request, context)
    }

    static func presentedKey(_ request: Request) -> String? {
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            return String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        if let name = HTTPField.Name("X-API-Key"), let key = request.headers[name] { return key }
        return nil
    }
}
