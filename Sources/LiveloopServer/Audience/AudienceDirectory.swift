import Crypto
import Foundation
import Interaction
import JWTKit
import Storage
import Synchronization

/// Each channel's audience settings and signing key, read from the store and kept in memory (re-read at least every
/// `reloadInterval`, at once after a change made through this server), and the checks that use them: channel-key
/// tokens for sign-in and for playback.
public final class AudienceDirectory: Sendable {
    public enum TokenError: Error, Equatable {
        /// No such channel, no key, a bad signature, or claims out of bounds.
        case invalid
        case expired
        case wrongChannel
        case revoked
        /// A playback-only token presented to sign in.
        case playbackOnly
    }

    struct Entry: Sendable {
        var audience: ChannelAudience
        var key: ChannelSigningKey?
        var verifier: JWTKeyCollection?
        var loadedAt: Date
    }

    static let reloadInterval: TimeInterval = 5
    /// Channels kept in memory; beyond this the table is emptied (each entry is re-read on its next use).
    static let maximumEntries = 10_000

    private let store: any Store
    private let entries = Mutex<[String: Entry]>([:])

    public init(store: any Store) {
        self.store = store
    }

    /// The channel's settings (defaults when it has none); nil when there is no such channel.
    public func audience(_ channel: String, at now: Date = Date()) async -> ChannelAudience? {
        await entry(channel, at: now)?.audience
    }

    /// The channel's signing key, if it has one.
    public func signingKey(_ channel: String, at now: Date = Date()) async -> ChannelSigningKey? {
        await entry(channel, at: now)?.key
    }

    /// Forgets what is cached for a channel (after a PUT or a key rotation), so the next use reads the store.
    public func invalidate(_ channel: String) {
        _ = entries.withLock { $0.removeValue(forKey: channel) }
    }

    private func entry(_ channel: String, at now: Date) async -> Entry? {
        if let cached = entries.withLock({ $0[channel] }), now.timeIntervalSince(cached.loadedAt) < Self.reloadInterval {
            return cached
        }
        guard (try? await store.channel(named: channel)) ?? nil != nil else {
            invalidate(channel)
            return nil
        }
        let audience = (try? await store.channelAudience(channel: channel)).flatMap { $0 }
            .flatMap { try? JSONDecoder().decode(ChannelAudience.self, from: $0) } ?? ChannelAudience()
        let key = (try? await store.channelSigningKey(channel: channel)) ?? nil
        var verifier: JWTKeyCollection?
        if let key {
            let keys = JWTKeyCollection()
            await keys.add(hmac: HMACKey(from: key.secret), digestAlgorithm: .sha256, kid: JWKIdentifier(string: key.id))
            verifier = keys
        }
        let fresh = Entry(audience: audience, key: key, verifier: verifier, loadedAt: now)
        entries.withLock { table in
            if table.count >= Self.maximumEntries { table.removeAll() }
            table[channel] = fresh
        }
        return fresh
    }

    /// Whether a token's header names a channel signing key (`kid` starting `ck_`), so it is checked here and not by
    /// the server's `TokenAuthority`.
    public static func isChannelKeyToken(_ token: String) -> Bool {
        TokenAuthority.headerKID(of: token)?.hasPrefix("ck_") == true
    }

    /// The verified claims of a token signed with `channel`'s key.
    public func claims(token: String, channel: String, at now: Date = Date()) async throws(TokenError) -> ChannelKeyClaims {
        guard token.utf8.count <= 4096, let entry = await entry(channel, at: now), let verifier = entry.verifier,
              let key = entry.key, TokenAuthority.headerKID(of: token) == key.id else { throw .invalid }
        struct Unchecked: JWTPayload {
            var claims: ChannelKeyClaims
            init(from decoder: any Decoder) throws { claims = try ChannelKeyClaims(from: decoder) }
            func encode(to encoder: any Encoder) throws { try claims.encode(to: encoder) }
            func verify(using algorithm: some JWTAlgorithm) throws {}
        }
        let claims: ChannelKeyClaims
        do {
            claims = try await verifier.verify(token, as: Unchecked.self).claims
        } catch {
            throw .invalid
        }
        // Expiry is judged against `now` (not the library's clock), so a test can step past it.
        guard claims.exp.value > now else { throw .expired }
        let issuedAt = claims.iat?.value ?? now
        guard claims.exp.value.timeIntervalSince(issuedAt) <= TokenAuthority.maximumLifetime + 60,
              claims.exp.value.timeIntervalSince(now) <= TokenAuthority.maximumLifetime + 60,
              issuedAt.timeIntervalSince(now) < 60 else { throw .invalid }
        guard claims.channel == channel else { throw .wrongChannel }
        if let sub = claims.sub, sub.isEmpty || sub.unicodeScalars.count > 128 { throw .invalid }
        return claims
    }

    /// The viewer a channel-key token signs in (refused for playback-only tokens, revoked ones and, in `guests` mode,
    /// every one: that mode lets nobody join).
    public func identity(token: String, channel: String, at now: Date = Date()) async throws(TokenError) -> Identity {
        let claims = try await claims(token: token, channel: channel, at: now)
        guard !claims.isPlaybackOnly else { throw .playbackOnly }
        guard let sub = claims.sub, await audience(channel, at: now)?.join != .guests else { throw .invalid }
        let tokenID = claims.jti ?? Self.digest(of: token)
        let issuedAt = claims.iat?.value ?? now
        let revoked = (try? await store.isRevoked(jti: tokenID, sub: sub, channel: channel, issuedAt: issuedAt)) ?? true
        if revoked { throw .revoked }
        let name = claims.name.map { String($0.prefix(64)) } ?? sub
        return Identity(sub: sub, name: name.isEmpty ? sub : name, role: .viewer,
                        credential: .init(tokenID: tokenID, issuedAt: issuedAt.timeIntervalSince1970))
    }

    /// Mints a token with the channel's key (the server's half of "signed by the server or by the customer's backend").
    public func mint(_ claims: ChannelKeyClaims, channel: String) async throws -> String? {
        guard let entry = await entry(channel, at: Date()), let verifier = entry.verifier, let key = entry.key else { return nil }
        return try await verifier.sign(claims, kid: JWKIdentifier(string: key.id))
    }

    static func digest(of token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
    }
}
