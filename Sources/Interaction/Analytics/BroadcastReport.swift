import Foundation

/// The analytics of one broadcast, built from the channel's event log alone (`BroadcastReportBuilder`), so the
/// numbers are exact and need no second store. Every field is documented in docs/analytics.md and openapi.json
/// (`BroadcastReport`); a live broadcast's report has `endedAt` nil and the numbers so far.
public struct BroadcastReport: Sendable, Hashable, Codable {
    public var channel: String
    public var broadcastID: String
    public var startedAt: Date
    public var endedAt: Date?
    public var live: Bool
    public var durationSeconds: Double
    public var viewers: Viewers
    public var polls: [PollStats]
    public var quizzes: [QuizStats]
    public var chat: Rate
    public var reactions: Reactions
    public var questions: Questions
    public var offers: [OfferStats]
    /// The sponsored polls and quizzes of the broadcast, polls first, each in the order launched.
    public var sponsors: [SponsorStats]
    public var gifts: Gifts

    /// The audience over time: a step function that holds each sample's count until the next.
    public struct Viewers: Sendable, Hashable, Codable {
        public var series: [Point]
        public var peak: Int
        /// Time-weighted over the broadcast (each count weighted by how long it held).
        public var average: Double
    }

    public struct Point: Sendable, Hashable, Codable {
        public var t: Date
        public var offsetSeconds: Double
        public var count: Int
    }

    public struct PollStats: Sendable, Hashable, Codable {
        public var pollID: String
        public var question: String
        public var options: [String]
        public var launchedAt: Date
        public var closedAt: Date?
        public var viewersAtLaunch: Int
        /// Distinct users with a ballot.
        public var voters: Int
        /// voters ÷ viewersAtLaunch (nil when nobody was watching at the launch); above 1 when viewers joined later.
        public var participation: Double?
        /// Ballots per option (each voter's final ballot).
        public var counts: [Int]
    }

    public struct QuizStats: Sendable, Hashable, Codable {
        public var quizID: String
        public var title: String
        /// Distinct users who answered at least one question.
        public var players: Int
        /// players ÷ the audience when the quiz's first question was shown.
        public var participation: Double?
        public var questions: [QuizQuestionStats]
        /// Every answer of the quiz.
        public var answerTime: Distribution
    }

    public struct QuizQuestionStats: Sendable, Hashable, Codable {
        public var index: Int
        public var prompt: String
        public var shownAt: Date
        public var viewersAtShow: Int
        public var answers: Int
        public var correct: Int
        public var participation: Double?
        public var answerTime: Distribution
    }

    /// A count over the broadcast, its average rate and its count per bucket of `bucketSeconds`.
    public struct Rate: Sendable, Hashable, Codable {
        public var total: Int
        public var perMinute: Double
        public var bucketSeconds: Int
        public var series: [Int]
    }

    public struct Reactions: Sendable, Hashable, Codable {
        public var total: Int
        public var perMinute: Double
        public var bucketSeconds: Int
        public var series: [Int]
        public var byEmoji: [String: Int]
    }

    public struct Questions: Sendable, Hashable, Codable {
        public var asked: Int
        public var answered: Int
    }

    public struct OfferStats: Sendable, Hashable, Codable {
        public var offerID: String
        public var title: String
        public var firstShownAt: Date
        public var shows: Int
        /// The largest audience at any moment the offer was put up.
        public var impressions: Int
        public var clicks: Int
        public var uniqueClicks: Int
        /// uniqueClicks ÷ impressions (nil when nobody was watching).
        public var clickThrough: Double?
        /// Each click attributed: who, when, and where on the video's timeline — the first ``maximumClickLog`` of the
        /// offer in this broadcast (`clicks` counts them all).
        public var clickLog: [OfferClick]

        public static let maximumClickLog = 1_000
    }

    /// A poll or quiz of the broadcast that carried a sponsor, with the clicks on it (counted like an offer's).
    public struct SponsorStats: Sendable, Hashable, Codable {
        public var kind: SponsoredInteraction.Kind
        /// The poll's or quiz's id.
        public var id: String
        /// The poll's question or the quiz's title.
        public var title: String
        /// The sponsor's name and link.
        public var sponsor: String
        public var link: String
        /// The audience when the card went up: a poll's viewers at its launch, a quiz's largest audience at a question.
        public var impressions: Int
        public var clicks: Int
        public var uniqueClicks: Int
        /// uniqueClicks ÷ impressions (nil when nobody was watching).
        public var clickThrough: Double?
        /// The first ``OfferStats/maximumClickLog`` clicks, attributed as an offer's are.
        public var clickLog: [OfferClick]
    }

    /// One counted offer or sponsor click: the viewer (`sub`), the server's time, and the viewer's playhead in seconds of media
    /// time when their client sent it.
    public struct OfferClick: Sendable, Hashable, Codable {
        public var sub: String
        public var at: Date
        public var mediaTime: Double?
    }

    public struct Gifts: Sendable, Hashable, Codable {
        /// Gift events (one per send, however many items it carried).
        public var events: Int
        public var items: Int
        public var value: Int
        public var byItem: [GiftItemStats]
        public var topSupporters: [SupporterStats]
    }

    public struct GiftItemStats: Sendable, Hashable, Codable {
        public var giftID: String
        public var name: String
        public var events: Int
        public var items: Int
        public var value: Int
    }

    public struct SupporterStats: Sendable, Hashable, Codable {
        public var sub: String
        public var name: String
        public var items: Int
        public var value: Int
    }
}

/// A broadcast in the channel's list (`GET /api/v1/channels/C/broadcasts`).
public struct BroadcastSummary: Sendable, Hashable, Codable {
    public var id: String
    public var startedAt: Date
    public var endedAt: Date?
    public var durationSeconds: Double
    public var peakViewers: Int
}

// `endedAt` is written as JSON null while a broadcast is live (not left out, as synthesized encoding would), so a
// client can tell "live" from "field missing".
extension BroadcastReport {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(channel, forKey: .channel)
        try container.encode(broadcastID, forKey: .broadcastID)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(endedAt, forKey: .endedAt)
        try container.encode(live, forKey: .live)
        try container.encode(durationSeconds, forKey: .durationSeconds)
        try container.encode(viewers, forKey: .viewers)
        try container.encode(polls, forKey: .polls)
        try container.encode(quizzes, forKey: .quizzes)
        try container.encode(chat, forKey: .chat)
        try container.encode(reactions, forKey: .reactions)
        try container.encode(questions, forKey: .questions)
        try container.encode(offers, forKey: .offers)
        try container.encode(sponsors, forKey: .sponsors)
        try container.encode(gifts, forKey: .gifts)
    }
}

extension BroadcastSummary {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(endedAt, forKey: .endedAt)
        try container.encode(durationSeconds, forKey: .durationSeconds)
        try container.encode(peakViewers, forKey: .peakViewers)
    }
}
