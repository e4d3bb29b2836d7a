/// Who is acting: the subject (`sub`, stable across reconnects and new tokens), a display name and a role.
///
/// The server builds it from a verified JWT (or an anonymous guest id). Bans and ballots key on `sub`.
public struct Identity: Sendable, Hashable, Codable {
    public var sub: String
    public var name: String
    public var role: Role

    public init(sub: String, name: String, role: Role) {
        self.sub = sub
        self.name = name
        self.role = role
    }
}
