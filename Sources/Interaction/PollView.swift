/// A poll as a client sees it (`poll` messages and snapshots). `results` is present for staff always and for
/// viewers only once the poll is revealed.
public struct PollView: Sendable, Hashable, Codable {
    public var pollID: String
    public var question: String
    public var options: [String]
    public var multipleChoice: Bool
    public var allowsChanges: Bool
    public var windowSeconds: Int?
    public var phase: Poll.Phase
    public var launchedAt: Timestamp?
    public var deadline: Timestamp?
    public var results: Tally?
    public var sponsor: Sponsor?

    /// The view of `poll` for staff (`includeTally`) or for viewers.
    public init(_ poll: Poll, includeTally: Bool) {
        pollID = poll.pollID
        question = poll.definition.question
        options = poll.definition.options
        multipleChoice = poll.definition.multipleChoice
        allowsChanges = poll.definition.allowsChanges
        windowSeconds = poll.definition.windowSeconds
        phase = poll.phase
        launchedAt = poll.launchedAt
        deadline = poll.deadline
        sponsor = poll.definition.sponsor
        results = includeTally || poll.phase == .revealed ? poll.tally : nil
    }
}
