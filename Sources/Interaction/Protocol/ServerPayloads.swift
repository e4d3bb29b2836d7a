// The small payloads of server messages. Field names are the wire names.

extension ServerMessage {
    /// `hello`: sent once on connect. With `recovered: true` the missed broadcasts follow and `snapshot` is absent;
    /// otherwise `snapshot` is the room as this user may see it.
    public struct Hello: Sendable, Hashable, Codable {
        public var serverTime: Timestamp
        public var you: Identity
        /// The room's latest `seq` when the snapshot was taken.
        public var currentSeq: UInt64
        public var recovered: Bool
        public var snapshot: RoomSnapshot?
        public init(serverTime: Timestamp, you: Identity, currentSeq: UInt64, recovered: Bool, snapshot: RoomSnapshot?) {
            self.serverTime = serverTime
            self.you = you
            self.currentSeq = currentSeq
            self.recovered = recovered
            self.snapshot = snapshot
        }
    }

    /// `ack`: the request with the envelope's `id` was accepted (and is durable). `ref` names what it created.
    public struct Ack: Sendable, Hashable, Codable {
        public var ref: String?
        /// For `quiz.answer`: the response time the server judged, from this viewer's display of the question.
        public var responseMs: Int64?
        public init(ref: String? = nil, responseMs: Int64? = nil) {
            self.ref = ref
            self.responseMs = responseMs
        }
    }

    /// `error`: the request with the envelope's `id` was refused; nothing changed.
    public struct ErrorBody: Sendable, Hashable, Codable {
        public var code: ErrorCode
        public var message: String
        public init(code: ErrorCode, message: String) {
            self.code = code
            self.message = message
        }
        public init(_ error: InteractionError) {
            self.init(code: error.code, message: error.message)
        }
    }

    /// `pong`: the server's time when the ping was handled, and the ping's `clientTime` echoed.
    public struct Pong: Sendable, Hashable, Codable {
        public var serverTime: Timestamp
        public var clientTime: Timestamp?
        public init(serverTime: Timestamp, clientTime: Timestamp? = nil) {
            self.serverTime = serverTime
            self.clientTime = clientTime
        }
    }

    /// `chat.deleted`: messages removed by a moderator, their author, or a ban.
    public struct ChatDeleted: Sendable, Hashable, Codable {
        public var messageIDs: [String]
        public init(messageIDs: [String]) {
            self.messageIDs = messageIDs
        }
    }

    /// `chat.settings`: slow mode changed (the word list itself is never sent to viewers).
    public struct ChatSettings: Sendable, Hashable, Codable {
        public var slowModeSeconds: Int
        public init(slowModeSeconds: Int) {
            self.slowModeSeconds = slowModeSeconds
        }
    }

    /// `reactions`: taps per emoji since the previous tick.
    public struct ReactionCounts: Sendable, Hashable, Codable {
        public var counts: [String: Int]
        public init(counts: [String: Int]) {
            self.counts = counts
        }
    }

    /// `tally` (live, staff) and `results` (revealed, everyone).
    public struct TallyView: Sendable, Hashable, Codable {
        public var pollID: String
        public var counts: [Int]
        public var ballots: Int
        public init(pollID: String, counts: [Int], ballots: Int) {
            self.pollID = pollID
            self.counts = counts
            self.ballots = ballots
        }
    }

    /// `leaderboard`: the top of a quiz after a reveal; `players` is how many answered at least once.
    public struct LeaderboardView: Sendable, Hashable, Codable {
        public var quizID: String
        public var top: [Standing]
        public var players: Int
        public init(quizID: String, top: [Standing], players: Int) {
            self.quizID = quizID
            self.top = top
            self.players = players
        }
    }

    /// `qa.votes`: new vote counts of the questions upvoted since the previous tick.
    public struct QuestionVotes: Sendable, Hashable, Codable {
        public var votes: [String: Int]
        public init(votes: [String: Int]) {
            self.votes = votes
        }
    }

    /// `supporters`: the top-supporters board.
    public struct SupportersView: Sendable, Hashable, Codable {
        public var top: [Supporter]
        public init(top: [Supporter]) {
            self.top = top
        }
    }

    /// `offer.clicks` (staff): clicks on an offer, total and by distinct users.
    public struct OfferClicks: Sendable, Hashable, Codable {
        public var offerID: String
        public var clicks: Int
        public var uniqueClicks: Int
        public init(offerID: String, clicks: Int, uniqueClicks: Int) {
            self.offerID = offerID
            self.clicks = clicks
            self.uniqueClicks = uniqueClicks
        }
    }

    /// `viewers`: connections in the room (a count, never a member list).
    public struct ViewerCount: Sendable, Hashable, Codable {
        public var count: Int
        public init(count: Int) {
            self.count = count
        }
    }

    /// `moderation`: tells a user (only them) they were timed out, banned or unbanned. Shadow bans are never told.
    /// `goaway`: this server is shutting down. The client reconnects — through the same address, which a load
    /// balancer sends to another node — after a random moment within `reconnectWithinMs` (so a whole audience does not
    /// arrive at once), resuming with `lastSeq`. The server closes the socket once that window has passed.
    public struct GoAway: Sendable, Hashable, Codable {
        public var reason: String
        public var reconnectWithinMs: Int
        public init(reason: String = "shutdown", reconnectWithinMs: Int) {
            self.reason = reason
            self.reconnectWithinMs = reconnectWithinMs
        }
    }

    public struct ModerationNotice: Sendable, Hashable, Codable {
        public enum Action: String, Sendable, Hashable, Codable {
            case timeout, ban, unban
        }
        public var action: Action
        public var until: Timestamp?
        public init(action: Action, until: Timestamp? = nil) {
            self.action = action
            self.until = until
        }
    }
}
