import Foundation
import HTTPTypes
import Hummingbird
import Interaction
import Storage

/// The host's side of the audience (a host token, the admin key, or a tenant key with `channels:write`):
///
/// - `GET /api/v1/channels/CHANNEL/audience`: the settings, and the signing key's id and age (never its secret).
/// - `PUT …/audience`: a change; fields left out keep their value. `join: "guests"` also opens the room to guests;
///   `private: true` makes a signing key if the channel has none.
/// - `POST …/signing-key`: a new signing key, its secret shown in this answer only; tokens of the old key stop working.
/// - `POST …/playback-tokens` `{"ttlSeconds": 3600, "viewer": "u-42"}`: a playback token signed with the channel key.
struct AudienceAPI {
    let store: any Store
    let audience: AudienceDirectory
    let rooms: RoomRegistry
    let authenticator: Authenticator

    struct SigningKeyInfo: Encodable {
        var id: String
        var createdAt: Date
        /// Present only in the answer that made the key.
        var secret: String?
    }

    struct AudienceBody: Encodable {
        var join: ChannelAudience.JoinMode
        var `private`: Bool
        var allowedOrigins: [String]
        var branding: ChannelAudience.Branding
        var staffNames: [String]
        var signingKey: SigningKeyInfo?
    }

    struct PlaybackRequest: Decodable {
        var ttlSeconds: Int?
        var viewer: String?
    }

    struct PlaybackBody: Encodable {
        var token: String
        var expiresAt: Date
        /// The playlist address with the token, ready for any HLS player.
        var playbackURL: String
    }

    static let defaultPlaybackLifetime = 3600

    func register(on router: Router<LiveloopRequestContext>) {
        let group = router.group("api/v1/channels/:channel")
        group.get("audience") { request, context in
            let channel = try await authenticator.requireRole(.moderator, request, context)
            return try jsonResponse(.ok, try await body(channel))
        }
        group.put("audience") { request, context in
            let channel = try await authenticator.requireRole(.host, request, context, refusal: "only the host changes who may watch")
            let raw = try await request.body.collect(upTo: 32 * 1024)
            guard let change = try? JSONSerialization.jsonObject(with: Data(raw.readableBytesView)) as? [String: Any] else {
                throw APIError.badRequest("the audience settings are a JSON object")
            }
            let known = Set(["join", "private", "allowedOrigins", "branding", "staffNames"])
            if let unknown = change.keys.first(where: { !known.contains($0) }) {
                throw APIError.badRequest("unknown field \"\(unknown.prefix(40))\" (known: \(known.sorted().joined(separator: ", ")))")
            }
            audience.invalidate(channel)
            let current = await audience.audience(channel) ?? ChannelAudience()
            var merged = (try JSONSerialization.jsonObject(with: try JSONEncoder().encode(current)) as? [String: Any]) ?? [:]
            for (key, value) in change { merged[key] = value }
            let updated: ChannelAudience
            do {
                updated = try JSONDecoder().decode(ChannelAudience.self, from: try JSONSerialization.data(withJSONObject: merged))
            } catch {
                throw APIError.badRequest("join is open, signed or guests; private a boolean; allowedOrigins and staffNames lists of strings; branding an object of strings")
            }
            try updated.validate()
            try await store.saveChannelAudience(channel: channel, body: try JSONEncoder().encode(updated))
            if updated.private, try await store.channelSigningKey(channel: channel) == nil {
                _ = try await store.rotateChannelSigningKey(channel: channel)
            }
            if updated.join == .guests, current.join != .guests { try await openRoomToGuests(channel) }
            audience.invalidate(channel)
            return try jsonResponse(.ok, try await body(channel))
        }
        group.post("signing-key") { request, context in
            let channel = try await authenticator.requireRole(.host, request, context, refusal: "only the host makes signing keys")
            let key = try await store.rotateChannelSigningKey(channel: channel)
            audience.invalidate(channel)
            return try jsonResponse(.ok, SigningKeyInfo(id: key.id, createdAt: key.createdAt, secret: key.secret))
        }
        group.post("playback-tokens") { request, context in
            let channel = try await authenticator.requireRole(.host, request, context, refusal: "only the host mints playback tokens")
            let ask = try await request.decode(as: PlaybackRequest.self, context: context)
            let ttl = ask.ttlSeconds ?? Self.defaultPlaybackLifetime
            guard (1...Int(TokenAuthority.maximumLifetime)).contains(ttl) else {
                throw APIError.badRequest("ttlSeconds must be 1 to \(Int(TokenAuthority.maximumLifetime)) (24 hours)")
            }
            if let viewer = ask.viewer, viewer.isEmpty || viewer.unicodeScalars.count > 128 {
                throw APIError.badRequest("viewer must be 1–128 characters")
            }
            if try await store.channelSigningKey(channel: channel) == nil {
                _ = try await store.rotateChannelSigningKey(channel: channel)
                audience.invalidate(channel)
            }
            let now = Date()
            let expires = now.addingTimeInterval(Double(ttl))
            let claims = ChannelKeyClaims(sub: ask.viewer, channel: channel, scope: ChannelKeyClaims.playbackScope, expires: expires,
                                          issuedAt: now)
            guard let token = try await audience.mint(claims, channel: channel) else {
                throw APIError(.internalServerError, code: "storage", message: "the channel's signing key could not be read")
            }
            return try jsonResponse(.ok, PlaybackBody(token: token, expiresAt: expires,
                                                      playbackURL: "/live/\(channel)/index.m3u8?\(PlaybackQuery.name)=\(token)"))
        }
    }

    private func body(_ channel: String) async throws -> AudienceBody {
        audience.invalidate(channel)
        let settings = await audience.audience(channel) ?? ChannelAudience()
        let key = try await store.channelSigningKey(channel: channel)
        return AudienceBody(join: settings.join, private: settings.private, allowedOrigins: settings.allowedOrigins,
                            branding: settings.branding, staffNames: settings.staffNames,
                            signingKey: key.map { SigningKeyInfo(id: $0.id, createdAt: $0.createdAt) })
    }

    /// `guests` mode is "watch and react without joining": the room must let guests in.
    private func openRoomToGuests(_ channel: String) async throws {
        var settings = try await store.channelSettings(channel: channel).flatMap { try? JSONDecoder().decode(ChannelSettings.self, from: $0) }
            ?? ChannelSettings()
        guard settings.allowAnonymous != true else { return }
        settings.allowAnonymous = true
        try await store.saveChannelSettings(channel: channel, body: try JSONEncoder().encode(settings), allowAnonymous: true)
        rooms.remove(channel)
    }
}
