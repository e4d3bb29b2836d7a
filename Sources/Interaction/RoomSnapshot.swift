/// The room as one user may see it, sent in `hello` when there is nothing to resume from: live and recent
/// interactions, recent chat, top questions, the leaderboard, offers, supporters and the viewer count.
public struct RoomSnapshot: Sendable, Hashable, Codable {
    /// Polls that are live, closed or revealed (staff also see drafts), oldest first.
    public var polls: [PollView]
    /// The most recent quiz, if any.
    public var quiz: QuizView?
    /// The last messages this user may see, oldest first.
    public var chat: [ChatMessage]
    /// Top public questions in display order (staff also get pending ones; the asker gets their own pending ones).
    public var questions: [Question]
    /// The top of the most recent quiz's leaderboard.
    public var leaderboard: [Standing]
    /// This user's own standing in the most recent quiz.
    public var standing: Standing?
    public var supporters: [Supporter]
    public var offers: [OfferCard]
    /// Staff only: every sponsored poll and quiz with the clicks on its sponsor (absent for viewers).
    public var sponsorClicks: [SponsorClicks.ClickCount]?
    public var viewers: Int
    public var slowModeSeconds: Int
    public var allowedReactions: [String]
    public var gifts: [GiftItem]
    /// The latency behind ingest the channel's players hold (the page steers to it; cues are timed against it).
    public var sync: SyncTargets
}
