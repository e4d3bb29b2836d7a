/// Every message a client may send, by its wire `type`. Decoded from and encoded into the flat JSON envelope
/// `{"v":1,"type":"poll.vote","id":"r7","pollID":"p1","choices":[0]}` by `ClientRequest`; the payload's fields sit
/// beside `v`, `type` and `id` (which is why no payload has a field of those names).
///
/// `requiredRole` says who may send each one; the room refuses the rest with `forbidden`.
public enum ClientMessage: Sendable, Hashable {
    // Anyone (guests included).
    case ping(Ping)
    /// What the client's player reports about itself (display latency, round trip); no reply.
    case sync(SyncReport)
    case reaction(Reaction)
    // Viewers.
    case chatSend(ChatSend)
    /// A viewer may delete their own message; staff may delete any.
    case chatDelete(ChatDelete)
    case pollVote(PollVote)
    case quizAnswer(QuizAnswer)
    case qaAsk(QuestionAsk)
    case qaUpvote(QuestionTarget)
    case giftSend(GiftSend)
    case offerClick(OfferTarget)
    /// A click on the sponsor of a poll or quiz card.
    case sponsorClick(SponsorClick)
    // Moderators (and hosts).
    case qaModerate(QandA.Action, QuestionTarget)
    case modTimeout(TimeoutUser)
    case modBan(UserTarget)
    case modUnban(UserTarget)
    case modShadowBan(ShadowBanUser)
    case chatSlowMode(SlowMode)
    case chatFilter(Filter)
    // Hosts.
    case pollCreate(PollDraft)
    case pollLaunch(PollTarget)
    case pollClose(PollTarget)
    case pollReveal(PollTarget)
    case quizCreate(QuizDraft)
    case quizNext(QuizTarget)
    case quizClose(QuizTarget)
    case quizReveal(QuizTarget)
    case quizEnd(QuizTarget)
    case offerShow(OfferShow)
    case offerHide(OfferTarget)

    /// The wire `type` of each client message.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case ping, sync, reaction
        case chatSend = "chat.send", chatDelete = "chat.delete"
        case pollVote = "poll.vote", quizAnswer = "quiz.answer"
        case qaAsk = "qa.ask", qaUpvote = "qa.upvote"
        case giftSend = "gift.send", offerClick = "offer.click", sponsorClick = "sponsor.click"
        case qaApprove = "qa.approve", qaReject = "qa.reject", qaPin = "qa.pin", qaUnpin = "qa.unpin"
        case qaAnswer = "qa.answer", qaArchive = "qa.archive"
        case modTimeout = "mod.timeout", modBan = "mod.ban", modUnban = "mod.unban", modShadowBan = "mod.shadowban"
        case chatSlowMode = "chat.slowmode", chatFilter = "chat.filter"
        case pollCreate = "poll.create", pollLaunch = "poll.launch", pollClose = "poll.close", pollReveal = "poll.reveal"
        case quizCreate = "quiz.create", quizNext = "quiz.next", quizClose = "quiz.close"
        case quizReveal = "quiz.reveal", quizEnd = "quiz.end"
        case offerShow = "offer.show", offerHide = "offer.hide"

        /// The least role that may send this message.
        public var requiredRole: Role {
            switch self {
            case .ping, .sync, .reaction: .guest
            case .chatSend, .chatDelete, .pollVote, .quizAnswer, .qaAsk, .qaUpvote, .giftSend, .offerClick, .sponsorClick: .viewer
            case .qaApprove, .qaReject, .qaPin, .qaUnpin, .qaAnswer, .qaArchive,
                 .modTimeout, .modBan, .modUnban, .modShadowBan, .chatSlowMode, .chatFilter: .moderator
            case .pollCreate, .pollLaunch, .pollClose, .pollReveal,
                 .quizCreate, .quizNext, .quizClose, .quizReveal, .quizEnd, .offerShow, .offerHide: .host
            }
        }

        /// Whether the room stores a record when it accepts this message. While the database is away these are
        /// refused with `unavailable`; the others (pings, syncs, reactions) go on.
        public var isStored: Bool {
            switch self {
            case .ping, .sync, .reaction: false
            default: true
            }
        }

        var qaAction: QandA.Action? {
            switch self {
            case .qaApprove: .approve
            case .qaReject: .reject
            case .qaPin: .pin
            case .qaUnpin: .unpin
            case .qaAnswer: .answer
            case .qaArchive: .archive
            default: nil
            }
        }
    }

    public var kind: Kind {
        switch self {
        case .ping: .ping
        case .sync: .sync
        case .reaction: .reaction
        case .chatSend: .chatSend
        case .chatDelete: .chatDelete
        case .pollVote: .pollVote
        case .quizAnswer: .quizAnswer
        case .qaAsk: .qaAsk
        case .qaUpvote: .qaUpvote
        case .giftSend: .giftSend
        case .offerClick: .offerClick
        case .sponsorClick: .sponsorClick
        case .qaModerate(let action, _):
            switch action {
            case .approve: .qaApprove
            case .reject: .qaReject
            case .pin: .qaPin
            case .unpin: .qaUnpin
            case .answer: .qaAnswer
            case .archive: .qaArchive
            }
        case .modTimeout: .modTimeout
        case .modBan: .modBan
        case .modUnban: .modUnban
        case .modShadowBan: .modShadowBan
        case .chatSlowMode: .chatSlowMode
        case .chatFilter: .chatFilter
        case .pollCreate: .pollCreate
        case .pollLaunch: .pollLaunch
        case .pollClose: .pollClose
        case .pollReveal: .pollReveal
        case .quizCreate: .quizCreate
        case .quizNext: .quizNext
        case .quizClose: .quizClose
        case .quizReveal: .quizReveal
        case .quizEnd: .quizEnd
        case .offerShow: .offerShow
        case .offerHide: .offerHide
        }
    }

    /// The least role that may send this message.
    public var requiredRole: Role { kind.requiredRole }
}
