/// The per-channel settings of a room. Every limit has a default suitable for a large public stream.
public struct RoomConfiguration: Sendable, Hashable {
    /// Token-bucket limits per user and kind of action; nil switches a limit off.
    public struct RateLimits: Sendable, Hashable {
        public var chat: RateLimit?
        public var reactions: RateLimit?
        public var votes: RateLimit?
        public var questions: RateLimit?
        public var upvotes: RateLimit?
        public var gifts: RateLimit?
        public var clicks: RateLimit?

        public init(chat: RateLimit? = RateLimit(burst: 5, perSecond: 1),
                    reactions: RateLimit? = RateLimit(burst: 30, perSecond: 15),
                    votes: RateLimit? = RateLimit(burst: 10, perSecond: 5),
                    questions: RateLimit? = RateLimit(burst: 3, perSecond: 0.1),
                    upvotes: RateLimit? = RateLimit(burst: 20, perSecond: 5),
                    gifts: RateLimit? = RateLimit(burst: 10, perSecond: 2),
                    clicks: RateLimit? = RateLimit(burst: 10, perSecond: 2)) {
            self.chat = chat
            self.reactions = reactions
            self.votes = votes
            self.questions = questions
            self.upvotes = upvotes
            self.gifts = gifts
            self.clicks = clicks
        }

        /// No rate limiting at all.
        public static let disabled = RateLimits(chat: nil, reactions: nil, votes: nil, questions: nil,
                                                upvotes: nil, gifts: nil, clicks: nil)
    }

    /// Whether anonymous guests may join (they read and react only).
    public var allowsAnonymous = false
    /// Longest chat message, in characters.
    public var maxMessageLength = 500
    /// Longest Q&A question, in characters.
    public var maxQuestionLength = 300
    /// Longest poll/quiz question, option or title, in characters.
    public var maxTextLength = 200
    /// Chat messages kept in memory (and restored on restart).
    public var chatHistoryLimit = 500
    /// Chat messages in a `hello` snapshot.
    public var snapshotChatCount = 50
    /// Broadcasts kept for `resume(afterSeq:)`.
    public var broadcastHistoryLimit = 2_000
    /// Questions in a `hello` snapshot.
    public var snapshotQuestionCount = 20
    /// Polls in a `hello` snapshot (the most recent ones).
    public var snapshotPollCount = 10
    /// Entries of the quiz leaderboard sent to everyone.
    public var leaderboardSize = 10
    /// Entries of the top-supporters board.
    public var supportersSize = 10
    /// Initial slow mode (seconds between messages per viewer; 0 = off).
    public var slowModeSeconds = 0
    /// Initial word filter.
    public var filterWords: [String] = []
    /// Emoji viewers may react with.
    public var allowedReactions = ["❤️", "👍", "😂", "😮", "👏", "🔥"]
    /// Whether viewers' questions wait for approval before they are public.
    public var questionsNeedApproval = false
    /// Default for polls that do not say: whether a ballot may be changed until the poll closes.
    public var ballotChangesAllowed = false
    public var rateLimits = RateLimits()
    /// The largest display latency (question sent → viewer's playhead shows it) a quiz answer may claim; questions
    /// also stay open this long after their window so that late-displaying viewers get their full window.
    public var maxDisplayLatency: Duration = .seconds(3)
    /// The latency behind ingest the channel's players hold, per path (`hello` tells every client).
    public var syncTargets = SyncTargets()
    public var scoring = QuizScoring()
    /// Whether every player gets a `standing` message (their own rank and score) when a quiz question is revealed.
    public var sendsStandingsOnReveal = true
    public var gifts: [GiftItem] = GiftItem.defaults
    /// Template of the rich message for a gift; see `GiftEvent.render`.
    public var giftTemplate = "{name} sent {gift}"
    /// Most gifts in one `gift.send`.
    public var maxGiftCount = 100
    /// Whether banning a user deletes their messages from chat history.
    public var purgesMessagesOnBan = true

    /// How often a live broadcast's audience is written into the log for analytics (`Record.viewerSample`).
    public var viewerSampleInterval: Duration = .seconds(10)

    public init() {}
}
