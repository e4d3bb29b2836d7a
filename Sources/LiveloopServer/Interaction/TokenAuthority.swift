import Crypto
import Foundation
import Interaction
import JWTKit

/// The claims of a Liveloop token (RFC 7519 JWT, HS256): who, shown as what name, in which role, for which channel.
/// `channel` may be `*` for a token valid on every channel (operators' tools).
public struct LiveloopClaims: JWTPayload, Equatable {
    public var sub: SubjectClaim
    public var name: String
    public var role: String
    public var channel: String
    public var exp: ExpirationClaim

    public init(sub: String, name: String, role: Role, channel: String, expires: Date) {
        self.sub = SubjectClaim(value: sub)
        self.name = name
        self.role = role.rawValue
        self.channel = channel
        self.exp = ExpirationClaim(value: expires)
    }

    public func verify(using algorithm: some JWTAlgorithm) throws {
        try exp.verifyNotExpired()
    }
}

/// Signs and checks tokens with the server's HS256 secret (kept in the store, created on first start).
public final class TokenAuthority: Sendable {
    private let keys: JWTKeyCollection

    public enum TokenError: Error, Equatable {
        case invalid
        case wrongChannel
        case unknownRole(String)
    }

    public init(secret: Data) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(key: SymmetricKey(data: secret)), digestAlgorithm: .sha256)
    }

    public func mint(_ claims: LiveloopClaims) async throws -> String {
        try await keys.sign(claims)
    }

    /// The identity a token grants on `channel`.
    public func identity(token: String, channel: String) async throws(TokenError) -> Identity {
        let claims: LiveloopClaims
        do {
            claims = try await keys.verify(token, as: LiveloopClaims.self)
        } catch {
            throw .invalid
        }
        guard claims.channel == channel || claims.channel == "*" else { throw .wrongChannel }
        guard let role = Role(rawValue: claims.role), role != .guest else { throw .unknownRole(claims.role) }
        return Identity(sub: claims.sub.value, name: String(claims.name.prefix(64)), role: role)
    }
}
