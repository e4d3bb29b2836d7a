extension ServerMessage {
    static func decode(_ kind: Kind, from decoder: any Decoder) throws -> ServerMessage {
        switch kind {
        case .hello: .hello(try Hello(from: decoder))
        case .ack: .ack(try Ack(from: decoder))
        case .error: .error(try ErrorBody(from: decoder))
        case .pong: .pong(try Pong(from: decoder))
        case .chat: .chat(try ChatMessage(from: decoder))
        case .chatDeleted: .chatDeleted(try ChatDeleted(from: decoder))
        case .chatSettings: .chatSettings(try ChatSettings(from: decoder))
        case .reactions: .reactions(try ReactionCounts(from: decoder))
        case .poll: .poll(try PollView(from: decoder))
        case .tally: .tally(try TallyView(from: decoder))
        case .results: .results(try TallyView(from: decoder))
        case .quiz: .quiz(try QuizView(from: decoder))
        case .leaderboard: .leaderboard(try LeaderboardView(from: decoder))
        case .standing: .standing(try Standing(from: decoder))
        case .question: .question(try Question(from: decoder))
        case .questionVotes: .questionVotes(try QuestionVotes(from: decoder))
        case .gift: .gift(try GiftEvent(from: decoder))
        case .supporters: .supporters(try SupportersView(from: decoder))
        case .offer: .offer(try OfferCard(from: decoder))
        case .offerHidden: .offerHidden(try ClientMessage.OfferTarget(from: decoder))
        case .offerClicks: .offerClicks(try OfferClicks(from: decoder))
        case .viewers: .viewers(try ViewerCount(from: decoder))
        case .moderation: .moderation(try ModerationNotice(from: decoder))
        case .goaway: .goaway(try GoAway(from: decoder))
        }
    }

    func encodePayload(to encoder: any Encoder) throws {
        switch self {
        case .hello(let payload): try payload.encode(to: encoder)
        case .ack(let payload): try payload.encode(to: encoder)
        case .error(let payload): try payload.encode(to: encoder)
        case .pong(let payload): try payload.encode(to: encoder)
        case .chat(let payload): try payload.encode(to: encoder)
        case .chatDeleted(let payload): try payload.encode(to: encoder)
        case .chatSettings(let payload): try payload.encode(to: encoder)
        case .reactions(let payload): try payload.encode(to: encoder)
        case .poll(let payload): try payload.encode(to: encoder)
        case .tally(let payload): try payload.encode(to: encoder)
        case .results(let payload): try payload.encode(to: encoder)
        case .quiz(let payload): try payload.encode(to: encoder)
        case .leaderboard(let payload): try payload.encode(to: encoder)
        case .standing(let payload): try payload.encode(to: encoder)
        case .question(let payload): try payload.encode(to: encoder)
        case .questionVotes(let payload): try payload.encode(to: encoder)
        case .gift(let payload): try payload.encode(to: encoder)
        case .supporters(let payload): try payload.encode(to: encoder)
        case .offer(let payload): try payload.encode(to: encoder)
        case .offerHidden(let payload): try payload.encode(to: encoder)
        case .offerClicks(let payload): try payload.encode(to: encoder)
        case .viewers(let payload): try payload.encode(to: encoder)
        case .moderation(let payload): try payload.encode(to: encoder)
        case .goaway(let payload): try payload.encode(to: encoder)
        }
    }
}
