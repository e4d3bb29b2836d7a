/// Who may not take part in a room: bans and shadow bans (by `sub`, until lifted) and timeouts (until an instant).
///
/// Bans hold across reconnects and new tokens because they key on `sub` and are rebuilt from records on restart.
public struct Moderation: Sendable, Hashable {
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

    public private(set) var banned: Set<String> = []
    public private(set) var shadowBanned: Set<String> = []
    public private(set) var timeouts: [String: Timestamp] = [:]

    public init() {}

    public mutating func apply(_ action: Action) {
        switch action {
        case .timeout(let sub, let until): timeouts[sub] = until
        case .ban(let sub): banned.insert(sub)
        case .unban(let sub):
            banned.remove(sub)
            timeouts[sub] = nil
        case .shadowBan(let sub, let enabled):
            if enabled { shadowBanned.insert(sub) } else { shadowBanned.remove(sub) }
        }
    }

    public func isBanned(_ sub: String) -> Bool { banned.contains(sub) }

    public func isShadowBanned(_ sub: String) -> Bool { shadowBanned.contains(sub) }

    /// The end of `sub`'s timeout if it is still running at `now`.
    public func timeout(of sub: String, at now: Timestamp) -> Timestamp? {
        guard let until = timeouts[sub], until > now else { return nil }
        return until
    }

    /// Forgets timeouts that have run out.
    public mutating func pruneTimeouts(at now: Timestamp) {
        timeouts = timeouts.filter { $0.value > now }
    }
}
