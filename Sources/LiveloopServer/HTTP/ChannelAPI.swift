import Foundation
import HTTPTypes
import Hummingbird
import LiveMedia
import Interaction
import Storage

/// `/api/v1/channels`: create, list, rotate a key, delete. Every call needs the admin API key.
struct ChannelAPI {
    let store: SQLiteStore
    let registry: BroadcastRegistry
    let rooms: RoomRegistry
    let tokens: TokenAuthority
    let rtmpURL: @Sendable () -> String

    struct ChannelBody: Codable, Sendable {
        var name: String
        var createdAt: Date
        var live: Bool
        var rtmpURL: String
        var playbackURL: String
        /// Present only in the answer that created or rotated the key.
        var streamKey: String?
    }

    struct CreateRequest: Decodable { var name: String }

    struct TokenRequest: Decodable {
        var role: String
        var sub: String
        var name: String?
        var ttlSeconds: Int?
    }

    struct TokenBody: Encodable {
        var token: String
        var expiresAt: Date
    }

    func register(on router: Router<LiveloopRequestContext>) {
        let api = router.group("api/v1/channels").add(middleware: AdminKeyMiddleware(store: store))
        api.get { _, _ in
            let channels = try store.channels()
            return try jsonResponse(.ok, channels.map { body($0, key: nil) })
        }
        api.post { request, context in
            let create = try await request.decode(as: CreateRequest.self, context: context)
            do {
                let (channel, key) = try store.createChannel(name: create.name)
                return try jsonResponse(.created, body(channel, key: key))
            } catch let error as StoreError {
                throw Self.apiError(error)
            }
        }
        api.get(":channel") { _, context in
            let name = context.parameters.get("channel") ?? ""
            guard let channel = try store.channel(named: name) else { throw Self.apiError(.channelNotFound(name)) }
            return try jsonResponse(.ok, body(channel, key: nil))
        }
        api.post(":channel/rotate-key") { _, context in
            let name = context.parameters.get("channel") ?? ""
            do {
                let key = try store.rotateKey(name: name)
                guard let channel = try store.channel(named: name) else { throw StoreError.channelNotFound(name) }
                return try jsonResponse(.ok, body(channel, key: key))
            } catch let error as StoreError {
                throw Self.apiError(error)
            }
        }
        // Mint a token for a viewer, moderator or host of this channel (how an operator's site signs its users in).
        api.post(":channel/tokens") { request, context in
            let name = context.parameters.get("channel") ?? ""
            guard try store.channel(named: name) != nil else { throw Self.apiError(.channelNotFound(name)) }
            let ask = try await request.decode(as: TokenRequest.self, context: context)
            guard let role = Role(rawValue: ask.role), role != .guest else {
                throw APIError.badRequest("role must be viewer, moderator or host")
            }
            guard !ask.sub.isEmpty, ask.sub.count <= 128, (ask.name ?? "").count <= 64 else {
                throw APIError.badRequest("sub must be 1–128 characters and name at most 64")
            }
            let ttl = ask.ttlSeconds ?? 3600
            guard (1...31_536_000).contains(ttl) else { throw APIError.badRequest("ttlSeconds must be 1 second to 1 year") }
            let expires = Date().addingTimeInterval(Double(ttl))
            let token = try await tokens.mint(LiveloopClaims(sub: ask.sub, name: ask.name ?? ask.sub, role: role, channel: name, expires: expires))
            return try jsonResponse(.ok, TokenBody(token: token, expiresAt: expires))
        }
        api.delete(":channel") { _, context in
            let name = context.parameters.get("channel") ?? ""
            do {
                try store.deleteChannel(name: name)
            } catch let error as StoreError {
                throw Self.apiError(error)
            }
            registry.remove(name)
            rooms.remove(name)
            try store.deleteEvents(channel: name)
            return Response(status: .noContent)
        }
    }

    func body(_ channel: Channel, key: String?) -> ChannelBody {
        ChannelBody(
            name: channel.name, createdAt: channel.createdAt, live: registry.broadcast(channel.name)?.isLive ?? false,
            rtmpURL: rtmpURL(), playbackURL: "/live/\(channel.name)/index.m3u8", streamKey: key
        )
    }

    static func apiError(_ error: StoreError) -> APIError {
        switch error {
        case .invalidChannelName: APIError(.badRequest, code: "invalid_name", message: error.description)
        case .channelExists: APIError(.conflict, code: "channel_exists", message: error.description)
        case .channelNotFound: APIError(.notFound, code: "not_found", message: error.description)
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
    let store: SQLiteStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let key = Self.presentedKey(request), try store.verifyAdminKey(key) else { throw APIError.unauthorized }
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
