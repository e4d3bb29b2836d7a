/// Who may send what in a room: the one rule that every path into a room applies — `Room.handle` for every request,
/// `BallotBox.vote` for the votes a server judges outside the room, whether the request came over a WebSocket or REST.
///
/// In order (docs/protocol.md, "How a request is checked"): the role (`forbidden`); then, except for `ping` and `sync`,
/// a guest where the channel has no anonymous access (`forbidden`), a ban (`banned`) and a timeout (`timed_out`).
/// Holds are judged against the role the identity presents now (see `Moderation`).
///
/// A value: the room hands a copy to its ballot boxes whenever moderation changes.
public struct Admission: Sendable, Hashable {
    public var allowsAnonymous: Bool
    public var moderation: Moderation

    public init(allowsAnonymous: Bool = false, moderation: Moderation = Moderation()) {
        self.allowsAnonymous = allowsAnonymous
        self.moderation = moderation
    }

    /// Throws the refusal of a `kind` request from `identity` at `now`, if any.
    public func check(_ kind: ClientMessage.Kind, for identity: Identity, at now: Timestamp) throws(InteractionError) {
        guard identity.role >= kind.requiredRole else {
            throw InteractionError(.forbidden, "\(kind.rawValue) needs the \(kind.requiredRole.rawValue) role")
        }
        guard kind != .ping, kind != .sync else { return }
        if identity.role == .guest && !allowsAnonymous {
            throw InteractionError(.forbidden, "this channel does not allow anonymous viewers")
        }
        if let refusal = moderation.refusal(of: identity, at: now) { throw refusal }
    }

    /// Throws the refusal of a new connection: a guest where the channel has no anonymous access, or a banned user.
    /// (A timed-out viewer may still connect and watch; their requests are refused until the timeout ends.)
    public func checkJoin(_ identity: Identity) throws(InteractionError) {
        if identity.role == .guest && !allowsAnonymous {
            throw InteractionError(.forbidden, "this channel does not allow anonymous viewers")
        }
        if moderation.isBanned(identity) { throw InteractionError(.banned, "you are banned from this channel") }
    }
}
