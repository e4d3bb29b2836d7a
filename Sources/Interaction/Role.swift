/// What a connected party may do in a room. Roles are ordered: each one may do everything the roles below it may.
///
/// - `guest`: an anonymous viewer (only where the channel allows them): reads and reacts, nothing else.
/// - `viewer`: an authenticated viewer: chats, votes, answers, asks, upvotes, sends gifts, clicks offers.
/// - `moderator`: also deletes messages, times out, bans and shadow-bans users, sets slow mode and the word filter,
///   and moderates Q&A.
/// - `host`: also creates and runs polls and quizzes and shows offers.
public enum Role: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case guest
    case viewer
    case moderator
    case host

    private var rank: Int {
        switch self {
        case .guest: 0
        case .viewer: 1
        case .moderator: 2
        case .host: 3
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }

    /// Whether this role belongs to the channel's staff (moderators and hosts).
    public var isStaff: Bool { self >= .moderator }
}
