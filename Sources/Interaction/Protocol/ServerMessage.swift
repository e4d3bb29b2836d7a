/// Every message the server sends, by its wire `type`. Encoded into the flat JSON envelope
/// `{"v":1,"type":"chat","seq":42,"messageID":"m7",…}` by `ServerEnvelope`.
///
/// Room broadcasts carry a `seq`; replies (`ack`, `error`, `pong`) carry the request's `id`; `hello` carries neither
/// (its payload has `currentSeq`).
public enum ServerMessage: Sendable, Hashable {
    case hello(Hello)
    case ack(Ack)
    case error(ErrorBody)
    case pong(Pong)
    case chat(ChatMessage)
    case chatDeleted(ChatDeleted)
    case chatSettings(ChatSettings)
    case reactions(ReactionCounts)
    case poll(PollView)
    /// Live counts of a poll, to staff only, every tick while it is live.
    case tally(TallyView)
    /// Final counts of a poll, to everyone, when it is revealed.
    case results(TallyView)
    case quiz(QuizView)
    case leaderboard(LeaderboardView)
    /// One user's own rank and score (sent to that user only).
    case standing(Standing)
    case question(Question)
    case questionVotes(QuestionVotes)
    case gift(GiftEvent)
    case supporters(SupportersView)
    case offer(OfferCard)
    case offerHidden(ClientMessage.OfferTarget)
    case offerClicks(OfferClicks)
    /// Clicks on a poll's or quiz's sponsor, to staff, on the tick after a click.
    case sponsorClicks(SponsorClicks.ClickCount)
    case viewers(ViewerCount)
    case moderation(ModerationNotice)
    /// The server is going away (a graceful shutdown): reconnect, with `lastSeq`, within `reconnectWithinMs`.
    case goaway(GoAway)

    /// The wire `type` of each server message.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case hello, ack, error, pong, chat
        case chatDeleted = "chat.deleted", chatSettings = "chat.settings"
        case reactions, poll, tally, results, quiz, leaderboard, standing
        case question = "qa", questionVotes = "qa.votes"
        case gift, supporters, offer
        case offerHidden = "offer.hidden", offerClicks = "offer.clicks", sponsorClicks = "sponsor.clicks"
        case viewers, moderation, goaway
    }

    public var kind: Kind {
        switch self {
        case .hello: .hello
        case .ack: .ack
        case .error: .error
        case .pong: .pong
        case .chat: .chat
        case .chatDeleted: .chatDeleted
        case .chatSettings: .chatSettings
        case .reactions: .reactions
        case .poll: .poll
        case .tally: .tally
        case .results: .results
        case .quiz: .quiz
        case .leaderboard: .leaderboard
        case .standing: .standing
        case .question: .question
        case .questionVotes: .questionVotes
        case .gift: .gift
        case .supporters: .supporters
        case .offer: .offer
        case .offerHidden: .offerHidden
        case .offerClicks: .offerClicks
        case .sponsorClicks: .sponsorClicks
        case .viewers: .viewers
        case .moderation: .moderation
        case .goaway: .goaway
        }
    }
}
