/// A Q&A question as stored and shown. `status` decides who sees it: `pending` only staff and the asker,
/// `open` and `answered` everyone, `rejected` and `archived` nobody but staff.
public struct Question: Sendable, Hashable, Codable {
    /// Where a question is in moderation.
    public enum Status: String, Sendable, Hashable, Codable {
        case pending, open, answered, rejected, archived

        /// Whether viewers see a question in this status.
        public var isPublic: Bool { self == .open || self == .answered }
    }

    public var questionID: String
    public var sub: String
    public var name: String
    public var text: String
    public var askedAt: Timestamp
    public var votes: Int
    public var status: Status
    public var pinned: Bool

    public init(questionID: String, sub: String, name: String, text: String, askedAt: Timestamp,
                votes: Int = 0, status: Status, pinned: Bool = false) {
        self.questionID = questionID
        self.sub = sub
        self.name = name
        self.text = text
        self.askedAt = askedAt
        self.votes = votes
        self.status = status
        self.pinned = pinned
    }

    /// The display order: pinned first, then more votes, then older.
    public static func displayOrder(_ lhs: Question, _ rhs: Question) -> Bool {
        if lhs.pinned != rhs.pinned { return lhs.pinned }
        if lhs.votes != rhs.votes { return lhs.votes > rhs.votes }
        if lhs.askedAt != rhs.askedAt { return lhs.askedAt < rhs.askedAt }
        return lhs.questionID < rhs.questionID
    }
}
