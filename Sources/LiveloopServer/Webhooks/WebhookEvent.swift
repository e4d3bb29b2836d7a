import Foundation
import Interaction
import Storage

/// The events a webhook can subscribe to; `webhook.ping` is sent only by `POST /api/v1/webhooks/{id}/ping`.
public enum WebhookEventType: String, CaseIterable, Sendable, Codable {
    case streamStarted = "stream.started"
    case streamEnded = "stream.ended"
    case recordingReady = "recording.ready"
    /// A recording stopped because a write failed (a full disk); the live stream goes on.
    case recordingFailed = "recording.failed"
    case pollClosed = "poll.closed"
    case quizEnded = "quiz.ended"
    case giftSent = "gift.sent"
    case ping = "webhook.ping"

    /// The types a subscription may name.
    public static let subscribable: [WebhookEventType] = allCases.filter { $0 != .ping }
}

/// One event as delivered: `{"id", "type", "createdAt", "channel", "data"}` (docs/webhooks.md). The body is encoded
/// once, when the event is queued, and the same bytes are signed and sent on every attempt.
public struct WebhookEvent: Sendable {
    public var type: WebhookEventType
    public var channel: String?
    public var body: Data

    public init<Payload: Encodable>(_ type: WebhookEventType, channel: String?, data: Payload, at now: Date = Date()) {
        self.type = type
        self.channel = channel
        let envelope = Envelope(id: Secrets.generate(prefix: "evt_"), type: type.rawValue, createdAt: now, channel: channel, data: data)
        body = (try? Self.encoder.encode(envelope)) ?? Data("{}".utf8)
    }

    struct Envelope<Payload: Encodable>: Encodable {
        var id: String
        var type: String
        var createdAt: Date
        var channel: String?
        var data: Payload
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

/// The payloads (`data`) of each event type.
public enum WebhookPayload {
    public struct StreamStarted: Encodable, Sendable {
        public var startedAt: Date
    }

    public struct StreamEnded: Encodable, Sendable {
        public var startedAt: Date
        public var endedAt: Date
        public var durationSeconds: Double
    }

    /// What the recorder reports when a recording is complete and playable.
    public struct RecordingReady: Encodable, Sendable {
        public var recordingID: String
        public var startedAt: Date
        public var endedAt: Date
        public var durationSeconds: Double
        public var bytes: Int64
        /// Where the recording can be fetched (a URL on this server), when it is served.
        public var url: String?

        public init(recordingID: String, startedAt: Date, endedAt: Date, durationSeconds: Double, bytes: Int64, url: String?) {
            self.recordingID = recordingID
            self.startedAt = startedAt
            self.endedAt = endedAt
            self.durationSeconds = durationSeconds
            self.bytes = bytes
            self.url = url
        }
    }

    public struct PollClosed: Encodable, Sendable, Equatable {
        public var pollID: String
        public var question: String?
        public var options: [String]?
        /// Ballots per option, in the order of `options`.
        public var counts: [Int]
        public var ballots: Int
        public var closedAt: Date
    }

    public struct QuizEnded: Encodable, Sendable, Equatable {
        public var quizID: String
        public var title: String?
        /// How many answered at least once.
        public var players: Int
        /// The top of the leaderboard (the room's leaderboard size), best first.
        public var leaderboard: [Standing]
        public var endedAt: Date
    }

    public struct GiftSent: Encodable, Sendable, Equatable {
        public var giftEventID: String
        public var sub: String
        public var name: String
        public var giftID: String
        public var giftName: String
        public var count: Int
        public var value: Int
        public var total: Int
        public var text: String
        public var sentAt: Date
    }

    public struct Ping: Encodable, Sendable {
        public var webhookID: String
    }
}

extension WebhookEvent {
    /// The webhook events in a committed room update: a poll close with its final tally (the `tally` the close sends
    /// to staff), a quiz end with its leaderboard, each gift. Pure: the room host calls it after the commit.
    static func events(in update: RoomUpdate, channel: String) -> [WebhookEvent] {
        var events: [WebhookEvent] = []
        for record in update.records {
            switch record {
            case let .pollClosed(pollID, at):
                var view: PollView?
                var tally: ServerMessage.TallyView?
                for broadcast in update.broadcasts {
                    switch broadcast.message {
                    case let .poll(poll) where poll.pollID == pollID: view = poll
                    case let .tally(counts) where counts.pollID == pollID: tally = counts
                    case let .results(counts) where counts.pollID == pollID: tally = counts
                    default: break
                    }
                }
                let payload = WebhookPayload.PollClosed(pollID: pollID, question: view?.question, options: view?.options,
                                                        counts: tally?.counts ?? [], ballots: tally?.ballots ?? 0, closedAt: at.date)
                events.append(WebhookEvent(.pollClosed, channel: channel, data: payload))
            case let .quizEnded(quizID, at):
                var title: String?
                var board: ServerMessage.LeaderboardView?
                for broadcast in update.broadcasts {
                    switch broadcast.message {
                    case let .quiz(quiz) where quiz.quizID == quizID: title = quiz.title
                    case let .leaderboard(view) where view.quizID == quizID: board = view
                    default: break
                    }
                }
                let payload = WebhookPayload.QuizEnded(quizID: quizID, title: title, players: board?.players ?? 0,
                                                       leaderboard: board?.top ?? [], endedAt: at.date)
                events.append(WebhookEvent(.quizEnded, channel: channel, data: payload))
            case let .giftSent(gift):
                let payload = WebhookPayload.GiftSent(giftEventID: gift.giftEventID, sub: gift.sub, name: gift.name, giftID: gift.giftID,
                                                      giftName: gift.giftName, count: gift.count, value: gift.value, total: gift.total,
                                                      text: gift.text, sentAt: gift.at.date)
                events.append(WebhookEvent(.giftSent, channel: channel, data: payload))
            default:
                continue
            }
        }
        return events
    }
}
