/// Who is acting: the subject (`sub`, stable across reconnects and new tokens), a display name and a role.
///
/// The server builds it from a verified JWT (or an anonymous guest id). Bans and ballots key on `sub`.
public struct Identity: Sendable, Hashable, Codable {
    /// The token an identity was proven with: what a revocation of it matches (never sent to clients).
    public struct Credential: Sendable, Hashable {
        /// The token's `jti`.
        public var tokenID: String
        /// The token's `iat`, in seconds since 1970.
        public var issuedAt: Double

        public init(tokenID: String, issuedAt: Double) {
            self.tokenID = tokenID
            self.issuedAt = issuedAt
        }
    }

    public var sub: String
    public var name: String
    public var role: Role
    /// The token behind this identity; nil for the admin key and for guests. Not part of the wire format.
    public var credential: Credential?

    /// The `sub` of the operator's admin API key (a host everywhere; no moderator can act on it).
    public static let administratorSub = "admin"

    public init(sub: String, name: String, role: Role, credential: Credential? = nil) {
        self.sub = sub
        self.name = name
        self.role = role
        self.credential = credential
    }

    enum CodingKeys: String, CodingKey { case sub, name, role }
}
