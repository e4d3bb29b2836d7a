/// A durable event: everything the server must commit to the store before it acknowledges a request, and all a room
/// needs to rebuild itself after a restart (`Room.restore`). Records are replayed through the same code that
/// accepted them, in order, so a rebuilt room has the same tallies, scores, questions, history and bans.
///
/// Codable as `{"<case>":{…fields…}}`; case and field names are part of the storage format: add, never rename.
public enum Record: Sendable, Hashable, Codable {
    case chatPosted(message: ChatMessage, shadow: Bool)
    case chatDeleted(messageID: String, by: String, at: Timestamp)
    case chatSettingsChanged(slowModeSeconds: Int?, filterWords: [String]?, by: String, at: Timestamp)
    /// `role` is the role `by` acted in (absent in records written before it was recorded).
    case moderation(action: Moderation.Action, by: String, at: Timestamp, role: Role? = nil)
    case pollCreated(definition: PollDefinition, by: String, at: Timestamp)
    case pollLaunched(pollID: String, at: Timestamp)
    case pollClosed(pollID: String, at: Timestamp)
    case pollRevealed(pollID: String, at: Timestamp)
    case vote(pollID: String, sub: String, choices: Choices, at: Timestamp)
    case quizCreated(definition: QuizDefinition, by: String, at: Timestamp)
    case quizQuestionShown(quizID: String, index: Int, at: Timestamp)
    case quizQuestionClosed(quizID: String, index: Int, at: Timestamp)
    case quizQuestionRevealed(quizID: String, index: Int, at: Timestamp)
    case quizEnded(quizID: String, at: Timestamp)
    /// `responseMilliseconds` is the response time already clamped to the verified display latency.
    case quizAnswer(quizID: String, index: Int, sub: String, name: String, choices: Choices,
                    responseMilliseconds: Int64, at: Timestamp)
    case questionAsked(question: Question)
    case questionUpvoted(questionID: String, sub: String, at: Timestamp)
    case questionModerated(questionID: String, action: QandA.Action, by: String, at: Timestamp)
    case giftSent(event: GiftEvent)
    case offerShown(offer: OfferCard, at: Timestamp)
    case offerHidden(offerID: String, at: Timestamp)
    /// `mediaTime` is where the viewer's playhead was (seconds of the stream's media timeline) when the client said so
    /// (absent in records written before it was recorded, and for clients that do not send it).
    case offerClicked(offerID: String, sub: String, at: Timestamp, mediaTime: Double? = nil)
    /// A click on the sponsor of a poll or quiz, attributed like an offer click.
    case sponsorClicked(interaction: SponsoredInteraction, sub: String, at: Timestamp, mediaTime: Double? = nil)
    /// A live session of the channel began (a publisher started it); `broadcastID` names it in the analytics API.
    case broadcastStarted(broadcastID: String, at: Timestamp)
    /// That session ended (the publisher left and did not come back within the grace period, or the server stopped).
    case broadcastEnded(broadcastID: String, at: Timestamp)
    /// The room's audience at `at`: open connections of viewers and guests (staff not counted). Written while a
    /// broadcast is live, at most once per `RoomConfiguration.viewerSampleInterval`, and at the moments analytics
    /// needs exact: a broadcast's start and end, a poll's launch, a quiz question, an offer (`AudienceSampler`).
    case viewerSample(count: Int, at: Timestamp)
    /// The reaction taps, by emoji, counted since the previous such record (taps are aggregated, never logged one by one).
    case reactionsCounted(counts: [String: Int], at: Timestamp)

    /// When the event happened.
    public var at: Timestamp {
        switch self {
        case .chatPosted(let message, _): message.at
        case .questionAsked(let question): question.askedAt
        case .giftSent(let event): event.at
        case .chatDeleted(_, _, let at), .chatSettingsChanged(_, _, _, let at), .moderation(_, _, let at, _),
             .pollCreated(_, _, let at), .pollLaunched(_, let at), .pollClosed(_, let at), .pollRevealed(_, let at),
             .vote(_, _, _, let at), .quizCreated(_, _, let at), .quizQuestionShown(_, _, let at),
             .quizQuestionClosed(_, _, let at), .quizQuestionRevealed(_, _, let at), .quizEnded(_, let at),
             .quizAnswer(_, _, _, _, _, _, let at), .questionUpvoted(_, _, let at), .questionModerated(_, _, _, let at),
             .offerShown(_, let at), .offerHidden(_, let at), .offerClicked(_, _, let at, _), .sponsorClicked(_, _, let at, _),
             .broadcastStarted(_, let at), .broadcastEnded(_, let at), .viewerSample(_, let at), .reactionsCounted(_, let at):
            at
        }
    }
}
