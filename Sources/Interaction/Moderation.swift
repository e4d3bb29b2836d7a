/// Who may not take part in a room: bans and shadow bans (by `sub`, until lifted) and timeouts (until an instant).
///
/// Bans hold across reconnects and new tokens because they key on `sub` and are rebuilt from records on restart.
///
/// Every hold remembers the role of whoever placed it, and reaches only identities *below* that role, judged by the
/// role the identity presents when it acts (its token), never by what the room remembers of it. So a moderator's ban
/// of a host's `sub` — placed before the room ever saw that host, or after a restart — never stops the host, and a
/// host's ban of a moderator does stop that moderator.
public struct Moderation: Sendable, Hashable, Codable {
    /// A moderation action as persisted in `Record.moderation`.
    public enum Action: Sendable, Hashable, Codable {
        case timeout(sub: String, until: Timestamp)
        case ban(sub: String)
        case unban(sub: String)
        case shadowBan(sub: String, enabled: Bool)

        /// The user the action is about.
        public var sub: String {
            switch self {
            case .timeout(let sub, _), .ban(let sub), .unban(let sub), .shadowBan(let sub, _): sub
            }
        }
    }

    /// A running timeout: its end and the role of who placed it.
    public struct Timeout: Sendable, Hashable, Codable {
        public var until: Timestamp
        public var placedBy: Role
    }

    /// Banned subs and the role of who banned each.
    public private(set) var bans: [String: Role] = [:]
    /// Shadow-banned subs and the role of who shadow-banned each.
    public private(set) var shadowBans: [String: Role] = [:]
    public private(set) var timeouts: [String: Timeout] = [:]

    public init() {}

    /// Applies an action placed by someone of role `placedBy` (records written before roles were recorded say nil:
    /// they count as a moderator's, the least role that may moderate, so they never reach staff).
    public mutating func apply(_ action: Action, placedBy: Role? = nil) {
        let role = placedBy ?? .moderator
        switch action {
        case .timeout(let sub, let until): timeouts[sub] = Timeout(until: until, placedBy: role)
        case .ban(let sub): bans[sub] = role
        case .unban(let sub):
            bans[sub] = nil
            timeouts[sub] = nil
        case .shadowBan(let sub, let enabled):
            shadowBans[sub] = enabled ? role : nil
        }
    }

    /// Whether a ban is recorded for `sub`, whoever they turn out to be.
    public func isBanned(_ sub: String) -> Bool { bans[sub] != nil }

    /// Whether `identity` is held by a ban (one placed by a role above theirs).
    public func isBanned(_ identity: Identity) -> Bool {
        bans[identity.sub].map { $0 > identity.role } ?? false
    }

    /// Whether `identity`'s messages are shown to themselves alone.
    public func isShadowBanned(_ identity: Identity) -> Bool {
        shadowBans[identity.sub].map { $0 > identity.role } ?? false
    }

    /// The end of `identity`'s timeout if one placed above their role is still running at `now`.
    public func timeout(of identity: Identity, at now: Timestamp) -> Timestamp? {
        guard let timeout = timeouts[identity.sub], timeout.until > now, timeout.placedBy > identity.role else { return nil }
        return timeout.until
    }

    /// Whether a timeout is recorded for `sub` and still running.
    public func isTimedOut(_ sub: String, at now: Timestamp) -> Bool {
        timeouts[sub].map { $0.until > now } ?? false
    }

    /// The one moderation rule every request goes through (`Admission`): `banned` while banned, `timed_out` while
    /// timed out; nil when `identity` may act.
    public func refusal(of identity: Identity, at now: Timestamp) -> InteractionError? {
        if isBanned(identity) { return InteractionError(.banned, "you are banned from this channel") }
        if let until = timeout(of: identity, at: now) {
            return InteractionError(.timedOut, "you are timed out until \(until.unixMilliseconds)")
        }
        return nil
    }

    /// Forgets timeouts that have run out.
    public mutating func pruneTimeouts(at now: Timestamp) {
        timeouts = timeouts.filter { $0.value.until > now }
    }
}
