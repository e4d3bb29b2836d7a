import Crypto
import Foundation
import Interaction
import JWTKit
import Storage
import Synchronization

/// The claims of a Liveloop token (RFC 7519 JWT, HS256): who, shown as what name, in which role, for which channel,
/// and — so that it can be taken back — its own id (`jti`) and when it was issued (`iat`).
/// `channel` may be `*` for a token valid on every channel (operators' tools).
public struct LiveloopClaims: JWTPayload, Equatable {
    public var sub: SubjectClaim
    public var name: String
    public var role: String
    public var channel: String
    public var exp: ExpirationClaim
    /// Absent only in tokens minted before tokens could be revoked; those are refused.
    public var jti: IDClaim?
    public var iat: IssuedAtClaim?

    public init(sub: String, name: String, role: Role, channel: String, expires: Date, issuedAt: Date = Date(),
                tokenID: String = UUID().uuidString.lowercased()) {
        self.sub = SubjectClaim(value: sub)
        self.name = name
        self.role = role.rawValue
        self.channel = channel
        self.exp = ExpirationClaim(value: expires)
        self.iat = IssuedAtClaim(value: issuedAt)
        self.jti = IDClaim(value: tokenID)
    }

    /// The token's id (`jti`), if it has one.
    public var tokenID: String? { jti?.value }

    public func verify(using algorithm: some JWTAlgorithm) throws {
        try exp.verifyNotExpired()
    }
}

/// Signs and checks tokens with the server's HS256 secret (kept in the store, created on first start).
///
/// Every check, besides the signature and expiry: the token has a `jti` and an `iat`, lives no longer than
/// `maximumLifetime`, is signed by the current secret or by a replaced one still within its overlap
/// (`Store.rotateSecret`), and is not revoked (`Store.isRevoked`, one indexed query). Each token names
/// its secret in the header's `kid` (a digest of the secret), so a server learns of a secret the CLI rotated the first
/// time it meets a token signed with it, and re-reads the secrets at least every `reloadInterval`.
public final class TokenAuthority: Sendable {
    /// Lifetime of a token when the minter does not say.
    public static let defaultLifetime: TimeInterval = 4 * 3600
    /// Longest lifetime a token may have (minting refuses more, checking refuses tokens that claim more). It is also
    /// how long a revocation must be kept: every token it covers has expired by then.
    public static let maximumLifetime: TimeInterval = 24 * 3600
    /// Default time tokens signed with a replaced secret keep working after a rotation.
    public static let defaultRotationOverlap: TimeInterval = 3600
    /// Longest the server goes without re-reading the secrets from the store.
    static let reloadInterval: TimeInterval = 5

    /// The store key of the HS256 secret that signs viewer and host tokens.
    public static let secretName = "jwtSecret"

    public enum TokenError: Error, Equatable {
        case invalid
        case wrongChannel
        case unknownRole(String)
        case revoked
    }

    struct KeyRing: Sendable {
        var keys: JWTKeyCollection
        var currentKID: String
        /// Replaced secrets' kids and when each stops being accepted.
        var retiring: [String: Date]
        var loadedAt: Date
    }

    private let store: (any Store)?
    private let ring: Mutex<KeyRing>

    /// An authority with one secret and no store (tools that mint tokens for a server whose secret they hold):
    /// it checks signatures and claims but knows nothing of revocations or rotations.
    public init(secret: Data) async {
        store = nil
        ring = Mutex(await Self.makeRing(current: secret, retired: [], at: Date()))
    }

    /// The server's authority: secrets and revocations from `store` (SQLite or PostgreSQL).
    public init(store: any Store) async throws {
        self.store = store
        let now = Date()
        let current = try await store.secret(named: Self.secretName)
        let retired = try await store.retiredSecrets(named: Self.secretName, at: now)
        ring = Mutex(await Self.makeRing(current: current, retired: retired, at: now))
    }

    /// The authority on a SQLite store (its calls run off the cooperative pool).
    public convenience init(store: SQLiteStore) async throws {
        try await self.init(store: SQLiteAsyncStore(store))
    }

    /// The `kid` of a secret: the first 8 bytes of its SHA-256, in hex (names the secret, reveals nothing of it).
    static func kid(of secret: Data) -> String {
        SHA256.hash(data: secret).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    private static func makeRing(current: Data, retired: [RetiredSecret], at now: Date) async -> KeyRing {
        let keys = JWTKeyCollection()
        let currentKID = kid(of: current)
        // The current secret goes in first: it is also the default, used for tokens without a `kid`.
        await keys.add(hmac: HMACKey(key: SymmetricKey(data: current)), digestAlgorithm: .sha256,
                       kid: JWKIdentifier(string: currentKID))
        var retiring: [String: Date] = [:]
        for old in retired where old.secret != current {
            let id = kid(of: old.secret)
            retiring[id] = max(retiring[id] ?? .distantPast, old.retiresAt)
            await keys.add(hmac: HMACKey(key: SymmetricKey(data: old.secret)), digestAlgorithm: .sha256,
                           kid: JWKIdentifier(string: id))
        }
        return KeyRing(keys: keys, currentKID: currentKID, retiring: retiring, loadedAt: now)
    }

    /// Re-reads the secrets from the store (after a rotation by this server or by the CLI).
    public func reload(at now: Date = Date()) async throws {
        guard let store else { return }
        let stored = try await store.storedSecret(named: Self.secretName)
        let current = if let stored { stored } else { try await store.secret(named: Self.secretName) }
        let retired = try await store.retiredSecrets(named: Self.secretName, at: now)
        let fresh = await Self.makeRing(current: current, retired: retired, at: now)
        ring.withLock { $0 = fresh }
    }

    /// Replaces the signing secret; tokens signed with the old one keep working for `overlap` seconds.
    public func rotate(overlap: TimeInterval, at now: Date = Date()) async throws {
        guard let store else { return }
        try await store.rotateSecret(named: Self.secretName, overlap: overlap, at: now)
        try await reload(at: now)
    }

    public func mint(_ claims: LiveloopClaims) async throws -> String {
        let (keys, kid) = ring.withLock { ($0.keys, $0.currentKID) }
        return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
    }

    /// The claims of a token signed by one of our secrets, whether or not it has expired or been revoked (to revoke a
    /// token given whole); nil if it is not ours.
    public func claims(of token: String) async -> LiveloopClaims? {
        let keys = ring.withLock { $0.keys }
        struct Unchecked: JWTPayload {
            var claims: LiveloopClaims
            init(from decoder: any Decoder) throws { claims = try LiveloopClaims(from: decoder) }
            func encode(to encoder: any Encoder) throws { try claims.encode(to: encoder) }
            func verify(using algorithm: some JWTAlgorithm) throws {}
        }
        return try? await keys.verify(token, as: Unchecked.self).claims
    }

    /// The identity a token grants on `channel`.
    public func identity(token: String, channel: String, at now: Date = Date()) async throws(TokenError) -> Identity {
        let kid = Self.headerKID(of: token)
        let (stale, known) = ring.withLock { ring in
            (now.timeIntervalSince(ring.loadedAt) > Self.reloadInterval,
             kid.map { $0 == ring.currentKID || ring.retiring[$0] != nil } ?? true)
        }
        if stale {
            try? await reload(at: now)
        } else if !known, let store, let current = try? await store.storedSecret(named: Self.secretName),
                  Self.kid(of: current) != ring.withLock({ $0.currentKID }) {
            // A secret rotated in by the CLI since the last read: take it at once (one read tells, so a flood of
            // made-up kids costs a query each, not a reload).
            try? await reload(at: now)
        }
        let (keys, retiresAt) = ring.withLock { ring in (ring.keys, kid.flatMap { ring.retiring[$0] }) }
        if let retiresAt, retiresAt <= now { throw .invalid }
        let claims: LiveloopClaims
        do {
            claims = try await keys.verify(token, as: LiveloopClaims.self)
        } catch {
            throw .invalid
        }
        guard let jti = claims.jti?.value, !jti.isEmpty, let issuedAt = claims.iat?.value,
              claims.exp.value.timeIntervalSince(issuedAt) <= Self.maximumLifetime + 60,
              issuedAt.timeIntervalSince(now) < 60 else { throw .invalid }
        guard claims.channel == channel || claims.channel == "*" else { throw .wrongChannel }
        guard let role = Role(rawValue: claims.role), role != .guest else { throw .unknownRole(claims.role) }
        if let store {
            let revoked: Bool
            do {
                // The store keeps the read off the cooperative pool (SQLite blocks).
                revoked = try await store.isRevoked(jti: jti, sub: claims.sub.value, channel: channel, issuedAt: issuedAt)
            } catch {
                // Fail closed: a token that cannot be checked is not accepted.
                throw .invalid
            }
            if revoked { throw .revoked }
        }
        return Identity(sub: claims.sub.value, name: String(claims.name.prefix(64)), role: role,
                        credential: .init(tokenID: jti, issuedAt: issuedAt.timeIntervalSince1970))
    }

    /// Stores a revocation. It covers tokens issued up to `now`; it is kept until every such token has expired.
    @discardableResult
    public func revoke(_ scope: Revocation.Scope, at now: Date = Date()) async throws -> Revocation? {
        guard let store else { return nil }
        try await store.pruneRevocations(at: now)
        return try await store.revoke(scope, at: now, expiresAt: now.addingTimeInterval(Self.maximumLifetime + 60))
    }

    /// The `kid` in a JWT's header, if it has one (read before the signature is checked, to pick the secret).
    static func headerKID(of token: String) -> String? {
        guard let header = token.split(separator: ".", maxSplits: 1).first, header.count <= 1024 else { return nil }
        var base64 = header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64) else { return nil }
        struct Header: Decodable { var kid: String? }
        return (try? JSONDecoder().decode(Header.self, from: data))?.kid
    }
}
