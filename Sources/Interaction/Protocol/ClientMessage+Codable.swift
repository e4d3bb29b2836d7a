extension ClientMessage {
    /// Decodes the payload of a message of `kind` from the envelope's own (flat) container.
    static func decode(_ kind: Kind, from decoder: any Decoder) throws -> ClientMessage {
        if let action = kind.qaAction { return .qaModerate(action, try QuestionTarget(from: decoder)) }
        switch kind {
        case .ping: return .ping(try Ping(from: decoder))
        case .sync: return .sync(try SyncReport(from: decoder))
        case .reaction: return .reaction(try Reaction(from: decoder))
        case .chatSend: return .chatSend(try ChatSend(from: decoder))
        case .chatDelete: return .chatDelete(try ChatDelete(from: decoder))
        case .pollVote: return .pollVote(try PollVote(from: decoder))
        case .quizAnswer: return .quizAnswer(try QuizAnswer(from: decoder))
        case .qaAsk: return .qaAsk(try QuestionAsk(from: decoder))
        case .qaUpvote: return .qaUpvote(try QuestionTarget(from: decoder))
        case .giftSend: return .giftSend(try GiftSend(from: decoder))
        case .offerClick: return .offerClick(try OfferTarget(from: decoder))
        case .sponsorClick: return .sponsorClick(try SponsorClick(from: decoder))
        case .modTimeout: return .modTimeout(try TimeoutUser(from: decoder))
        case .modBan: return .modBan(try UserTarget(from: decoder))
        case .modUnban: return .modUnban(try UserTarget(from: decoder))
        case .modShadowBan: return .modShadowBan(try ShadowBanUser(from: decoder))
        case .chatSlowMode: return .chatSlowMode(try SlowMode(from: decoder))
        case .chatFilter: return .chatFilter(try Filter(from: decoder))
        case .pollCreate: return .pollCreate(try PollDraft(from: decoder))
        case .pollLaunch: return .pollLaunch(try PollTarget(from: decoder))
        case .pollClose: return .pollClose(try PollTarget(from: decoder))
        case .pollReveal: return .pollReveal(try PollTarget(from: decoder))
        case .quizCreate: return .quizCreate(try QuizDraft(from: decoder))
        case .quizNext: return .quizNext(try QuizTarget(from: decoder))
        case .quizClose: return .quizClose(try QuizTarget(from: decoder))
        case .quizReveal: return .quizReveal(try QuizTarget(from: decoder))
        case .quizEnd: return .quizEnd(try QuizTarget(from: decoder))
        case .offerShow: return .offerShow(try OfferShow(from: decoder))
        case .offerHide: return .offerHide(try OfferTarget(from: decoder))
        case .qaApprove, .qaReject, .qaPin, .qaUnpin, .qaAnswer, .qaArchive:
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "unreachable Q&A kind"))
        }
    }

    /// Encodes the payload's fields into the envelope's own (flat) container.
    func encodePayload(to encoder: any Encoder) throws {
        switch self {
        case .ping(let payload): try payload.encode(to: encoder)
        case .sync(let payload): try payload.encode(to: encoder)
        case .reaction(let payload): try payload.encode(to: encoder)
        case .chatSend(let payload): try payload.encode(to: encoder)
        case .chatDelete(let payload): try payload.encode(to: encoder)
        case .pollVote(let payload): try payload.encode(to: encoder)
        case .quizAnswer(let payload): try payload.encode(to: encoder)
        case .qaAsk(let payload): try payload.encode(to: encoder)
        case .qaUpvote(let payload): try payload.encode(to: encoder)
        case .giftSend(let payload): try payload.encode(to: encoder)
        case .offerClick(let payload): try payload.encode(to: encoder)
        case .sponsorClick(let payload): try payload.encode(to: encoder)
        case .qaModerate(_, let payload): try payload.encode(to: encoder)
        case .modTimeout(let payload): try payload.encode(to: encoder)
        case .modBan(let payload): try payload.encode(to: encoder)
        case .modUnban(let payload): try payload.encode(to: encoder)
        case .modShadowBan(let payload): try payload.encode(to: encoder)
        case .chatSlowMode(let payload): try payload.encode(to: encoder)
        case .chatFilter(let payload): try payload.encode(to: encoder)
        case .pollCreate(let payload): try payload.encode(to: encoder)
        case .pollLaunch(let payload): try payload.encode(to: encoder)
        case .pollClose(let payload): try payload.encode(to: encoder)
        case .pollReveal(let payload): try payload.encode(to: encoder)
        case .quizCreate(let payload): try payload.encode(to: encoder)
        case .quizNext(let payload): try payload.encode(to: encoder)
        case .quizClose(let payload): try payload.encode(to: encoder)
        case .quizReveal(let payload): try payload.encode(to: encoder)
        case .quizEnd(let payload): try payload.encode(to: encoder)
        case .offerShow(let payload): try payload.encode(to: encoder)
        case .offerHide(let payload): try payload.encode(to: encoder)
        }
    }
}
