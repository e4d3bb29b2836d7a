// The payloads of client messages. Field names are the wire names; optional fields may be omitted.

extension ClientMessage {
    /// `ping`: answered by `pong` with the server's time (and this `clientTime` echoed, for NTP-style sync).
    public struct Ping: Sendable, Hashable, Codable {
        public var clientTime: Timestamp?
        public init(clientTime: Timestamp? = nil) { self.clientTime = clientTime }
    }

    /// `sync`: the client's player, about itself — how far behind ingest its playhead is and its best ping round
    /// trip. The server times cue-bearing messages and answer windows for this connection from it, bounded by the
    /// channel's `maxDisplayLatency`.
    public struct SyncReport: Sendable, Hashable, Codable {
        public var latencyMs: Int?
        public var rttMs: Int?
        /// `ws` or `hls`: which path the player is on.
        public var path: String?
        public init(latencyMs: Int? = nil, rttMs: Int? = nil, path: String? = nil) {
            self.latencyMs = latencyMs
            self.rttMs = rttMs
            self.path = path
        }
    }

    /// `reaction`: one tap of an allowed emoji.
    public struct Reaction: Sendable, Hashable, Codable {
        public var emoji: String
        public init(emoji: String) { self.emoji = emoji }
    }

    /// `chat.send`.
    public struct ChatSend: Sendable, Hashable, Codable {
        public var text: String
        public init(text: String) { self.text = text }
    }

    /// `chat.delete`.
    public struct ChatDelete: Sendable, Hashable, Codable {
        public var messageID: String
        public init(messageID: String) { self.messageID = messageID }
    }

    /// `poll.vote`: option indices (one for a single-choice poll).
    public struct PollVote: Sendable, Hashable, Codable {
        public var pollID: String
        public var choices: [Int]
        public init(pollID: String, choices: [Int]) {
            self.pollID = pollID
            self.choices = choices
        }
    }

    /// `quiz.answer`. `question` is the index of the question answered. The viewer may say when they saw it, either as
    /// `shownAt` (server time, Unix ms, from their clock sync) or as `displayLatencyMs` after the question went out;
    /// the room clamps either to the latency the server can verify.
    public struct QuizAnswer: Sendable, Hashable, Codable {
        public var quizID: String
        public var question: Int
        public var choices: [Int]
        public var shownAt: Timestamp?
        public var displayLatencyMs: Int?
        public init(quizID: String, question: Int, choices: [Int], shownAt: Timestamp? = nil, displayLatencyMs: Int? = nil) {
            self.quizID = quizID
            self.question = question
            self.choices = choices
            self.shownAt = shownAt
            self.displayLatencyMs = displayLatencyMs
        }
    }

    /// `qa.ask`.
    public struct QuestionAsk: Sendable, Hashable, Codable {
        public var text: String
        public init(text: String) { self.text = text }
    }

    /// `qa.upvote`, `qa.approve`, `qa.reject`, `qa.pin`, `qa.unpin`, `qa.answer`, `qa.archive`.
    public struct QuestionTarget: Sendable, Hashable, Codable {
        public var questionID: String
        public init(questionID: String) { self.questionID = questionID }
    }

    /// `gift.send`: `count` defaults to 1; `receipt` is passed to the payment hook.
    public struct GiftSend: Sendable, Hashable, Codable {
        public var giftID: String
        public var count: Int?
        public var receipt: String?
        public init(giftID: String, count: Int? = nil, receipt: String? = nil) {
            self.giftID = giftID
            self.count = count
            self.receipt = receipt
        }
    }

    /// `offer.click`, `offer.hide`. A click may say where the viewer's playhead was (`mediaTime`, seconds, 0 to 10⁹);
    /// the room records it with the click.
    public struct OfferTarget: Sendable, Hashable, Codable {
        public var offerID: String
        public var mediaTime: Double?
        public init(offerID: String, mediaTime: Double? = nil) {
            self.offerID = offerID
            self.mediaTime = mediaTime
        }
    }

    /// `sponsor.click`: the sponsor of a poll (`pollID`) or a quiz (`quizID`), exactly one of the two; like an offer
    /// click, it may say where the viewer's playhead was (`mediaTime`, seconds, 0 to 10⁹).
    public struct SponsorClick: Sendable, Hashable, Codable {
        public var interaction: SponsoredInteraction
        public var mediaTime: Double?
        public init(_ interaction: SponsoredInteraction, mediaTime: Double? = nil) {
            self.interaction = interaction
            self.mediaTime = mediaTime
        }

        enum CodingKeys: String, CodingKey {
            case mediaTime
        }

        public init(from decoder: any Decoder) throws {
            interaction = try SponsoredInteraction(from: decoder)
            mediaTime = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(Double.self, forKey: .mediaTime)
        }

        public func encode(to encoder: any Encoder) throws {
            try interaction.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeIfPresent(mediaTime, forKey: .mediaTime)
        }
    }

    /// `mod.ban`, `mod.unban`.
    public struct UserTarget: Sendable, Hashable, Codable {
        public var sub: String
        public init(sub: String) { self.sub = sub }
    }

    /// `mod.timeout`: 1 second to 7 days.
    public struct TimeoutUser: Sendable, Hashable, Codable {
        public var sub: String
        public var seconds: Int
        public init(sub: String, seconds: Int) {
            self.sub = sub
            self.seconds = seconds
        }
    }

    /// `mod.shadowban`: `enabled` defaults to true; false lifts it.
    public struct ShadowBanUser: Sendable, Hashable, Codable {
        public var sub: String
        public var enabled: Bool?
        public init(sub: String, enabled: Bool? = nil) {
            self.sub = sub
            self.enabled = enabled
        }
    }

    /// `chat.slowmode`: seconds between two messages of one viewer; 0 turns it off.
    public struct SlowMode: Sendable, Hashable, Codable {
        public var seconds: Int
        public init(seconds: Int) { self.seconds = seconds }
    }

    /// `chat.filter`: replaces the word filter's list.
    public struct Filter: Sendable, Hashable, Codable {
        public var words: [String]
        public init(words: [String]) { self.words = words }
    }

    /// `poll.create`: a draft poll; the ack's `ref` is the new `pollID`.
    public struct PollDraft: Sendable, Hashable, Codable {
        public var question: String
        public var options: [String]
        public var multipleChoice: Bool?
        public var windowSeconds: Int?
        public var allowChanges: Bool?
        public var sponsor: Sponsor?
        public init(question: String, options: [String], multipleChoice: Bool? = nil, windowSeconds: Int? = nil,
                    allowChanges: Bool? = nil, sponsor: Sponsor? = nil) {
            self.sponsor = sponsor
            self.question = question
            self.options = options
            self.multipleChoice = multipleChoice
            self.windowSeconds = windowSeconds
            self.allowChanges = allowChanges
        }
    }

    /// `poll.launch`, `poll.close`, `poll.reveal`.
    public struct PollTarget: Sendable, Hashable, Codable {
        public var pollID: String
        public init(pollID: String) { self.pollID = pollID }
    }

    /// `quiz.create`: the ack's `ref` is the new `quizID`.
    public struct QuizDraft: Sendable, Hashable, Codable {
        public var title: String
        public var questions: [QuizDefinition.Question]
        public var sponsor: Sponsor?
        public init(title: String, questions: [QuizDefinition.Question], sponsor: Sponsor? = nil) {
            self.title = title
            self.questions = questions
            self.sponsor = sponsor
        }
    }

    /// `quiz.next`, `quiz.close`, `quiz.reveal`, `quiz.end`.
    public struct QuizTarget: Sendable, Hashable, Codable {
        public var quizID: String
        public init(quizID: String) { self.quizID = quizID }
    }

    /// `offer.show`: shows a new card, or updates and re-shows one with the same `offerID`.
    public struct OfferShow: Sendable, Hashable, Codable {
        public var offer: OfferCard
        public init(offer: OfferCard) { self.offer = offer }
    }
}
