import Foundation
import JWTKit

/// The claims of a token signed with a channel's signing key (HS256, `kid` = the key's id): what the customer's backend
/// mints for its own users, and what `POST …/playback-tokens` mints for members.
///
/// A viewer token (`scope` absent or `viewer`) needs `sub` and signs the viewer into the room; it also plays a private
/// channel. A playback token (`scope: "playback"`) only plays; `sub` is then optional (the viewer it was sold to).
public struct ChannelKeyClaims: JWTPayload, Equatable {
    public var sub: String?
    public var name: String?
    public var channel: String
    public var scope: String?
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim?
    public var jti: String?

    public static let playbackScope = "playback"

    public init(sub: String?, name: String? = nil, channel: String, scope: String? = nil, expires: Date, issuedAt: Date,
                tokenID: String? = UUID().uuidString.lowercased()) {
        self.sub = sub
        self.name = name
        self.channel = channel
        self.scope = scope
        self.exp = ExpirationClaim(value: expires)
        self.iat = IssuedAtClaim(value: issuedAt)
        self.jti = tokenID
    }

    public var isPlaybackOnly: Bool { scope == Self.playbackScope }

    public func verify(using algorithm: some JWTAlgorithm) throws {
        try exp.verifyNotExpired()
    }
}
