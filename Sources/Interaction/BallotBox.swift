/// What a ballot box needs to know of a poll to judge a vote without the room: a copy the room hands out whenever a
/// poll changes phase.
public struct PollRules: Sendable, Hashable {
    public let pollID: String
    public let phase: Poll.Phase
    public let optionCount: Int
    public let multipleChoice: Bool
    public let allowsChanges: Bool
    /// Ballots are taken while `now < deadline + min(displayLatency, grace)` (nil: until the host closes the poll).
    public let deadline: Timestamp?
    /// How long after the deadline a viewer whose playhead showed the poll later may still vote: the room's
    /// `maxDisplayLatency` for a poll launched during a live broadcast, zero otherwise.
    public let grace: Duration

    public init(_ poll: Poll, grace: Duration = .zero) {
        self.grace = grace
        pollID = poll.pollID
        phase = poll.phase
        optionCount = poll.definition.options.count
        multipleChoice = poll.definition.multipleChoice
        allowsChanges = poll.definition.allowsChanges
        deadline = poll.deadline
    }

    /// The one judgement of a ballot's content against a poll (the room's own vote path and every ballot box use
    /// it): live, within the deadline (plus the viewer's display latency, up to `grace`), at least one choice, every
    /// choice an option, one choice on a single-choice poll.
    public func judge(_ choices: Choices, at now: Timestamp, displayLatency: Duration = .zero) throws(InteractionError) {
        guard phase == .live else {
            throw InteractionError(.pollClosed, "poll \(pollID) is not taking ballots")
        }
        if let deadline, now >= deadline + min(max(displayLatency, .zero), grace) {
            throw InteractionError(.pollClosed, "poll \(pollID) is not taking ballots")
        }
        guard choices.count > 0 else { throw .badRequest("a ballot chooses at least one option") }
        guard choices.fits(optionCount: optionCount) else {
            throw InteractionError(.unknownOption, "poll \(pollID) has \(optionCount) options")
        }
        guard multipleChoice || choices.count == 1 else {
            throw .badRequest("poll \(pollID) takes a single choice")
        }
    }
}

/// One shard of a room's poll ballots: the hot path of a vote burst, outside the room.
///
/// A server keeps several boxes per room and sends each voter to the same box (by a hash of `sub`), so the per-user
/// ballot map that deduplicates votes is split across boxes and each box can sit behind its own lock. A box judges a
/// vote against the room's `Admission` (role, bans, timeouts: the same rule as every other request) and the poll's
/// `PollRules.judge`, remembers the ballot, counts it into a per-poll delta `Tally`, and returns the `Record` to
/// commit; the room never sees single votes, only the deltas it merges on its tick (`Room.mergeTallies`).
/// Deterministic and free of I/O, like the room.
///
/// Per-voter state is bounded like the room's: ballots live only while their poll is live, and the rate-limit
/// buckets of voters gone quiet are dropped by `pruneIfDue(at:)` (call it on every tick).
public struct BallotBox: Sendable {
    private var rules: [String: PollRules] = [:]
    /// The ballot of each voter of this box, per live poll.
    private var ballots: [String: [String: Choices]] = [:]
    private var deltas: [String: Tally] = [:]
    /// Polls closed through `close` before the room's next `update` (they answer `poll_closed`, not `not_found`).
    private var closed: Set<String> = []
    private var limiter: RateLimiter
    private var admission: Admission
    private var lastPrune: Timestamp?

    /// How often `pruneIfDue` drops idle rate-limit buckets (as often as the room prunes its own tables).
    public static let pruneInterval: Duration = .seconds(60)

    /// - Parameters:
    ///   - rateLimit: the channel's per-user vote limit (nil: none).
    ///   - admission: the room's admission rule (hand the box a new one after every moderation change).
    public init(rateLimit: RateLimit?, admission: Admission = Admission()) {
        self.limiter = RateLimiter(rateLimit)
        self.admission = admission
    }

    /// Replaces the admission rule (after a ban, timeout or unban in the room).
    public mutating func update(_ admission: Admission) {
        self.admission = admission
    }

    /// Replaces the rules with the room's current polls. Ballots of polls that no longer take votes are forgotten
    /// (closed polls never take another ballot, so their dedup map has no further use).
    public mutating func update(_ polls: [PollRules]) {
        rules = Dictionary(polls.map { ($0.pollID, $0) }, uniquingKeysWith: { _, last in last })
        closed.removeAll()
        for pollID in ballots.keys where rules[pollID]?.phase != .live {
            ballots[pollID] = nil
        }
    }

    /// Stops taking ballots for `pollIDs` at once (a close, reveal or expiry the room is about to record).
    public mutating func close(_ pollIDs: some Sequence<String>) {
        for pollID in pollIDs {
            rules[pollID] = nil
            ballots[pollID] = nil
        }
        closed.formUnion(pollIDs)
    }

    /// Gives the box the ballots it owns of a live poll (after a restart, from the room rebuilt out of the log).
    public mutating func seed(pollID: String, ballots seeded: [String: Choices]) {
        guard !seeded.isEmpty else { return }
        ballots[pollID, default: [:]].merge(seeded) { _, new in new }
    }

    /// Judges and counts one vote, in the order docs/protocol.md gives: admission (role, ban, timeout), option range,
    /// rate limit, the poll, its rules, a second ballot. On success the ballot is counted into the poll's delta and
    /// the returned record must be committed before the vote is acknowledged; on failure nothing changed except the
    /// rate-limit token, which a vote refused after the rate-limit check has used.
    public mutating func vote(_ vote: ClientMessage.PollVote, from identity: Identity, at now: Timestamp,
                              displayLatency: Duration = .zero) throws(InteractionError) -> Record {
        try admission.check(.pollVote, for: identity, at: now)
        guard let choices = Choices(indices: vote.choices) else {
            throw InteractionError(.unknownOption, "no such option on poll \(vote.pollID)")
        }
        try limiter.take(for: identity.sub, at: now)
        guard let poll = rules[vote.pollID] else {
            if closed.contains(vote.pollID) {
                throw InteractionError(.pollClosed, "poll \(vote.pollID) is not taking ballots")
            }
            throw .notFound("poll", vote.pollID)
        }
        try poll.judge(choices, at: now, displayLatency: displayLatency)
        let previous = ballots[poll.pollID]?[identity.sub]
        if let previous {
            guard poll.allowsChanges else {
                throw InteractionError(.alreadyVoted, "you already voted on poll \(poll.pollID)")
            }
            if previous != choices {
                deltas[poll.pollID, default: Tally(optionCount: poll.optionCount)].remove(previous)
                deltas[poll.pollID, default: Tally(optionCount: poll.optionCount)].add(choices)
            }
        } else {
            deltas[poll.pollID, default: Tally(optionCount: poll.optionCount)].add(choices)
        }
        ballots[poll.pollID, default: [:]][identity.sub] = choices
        return .vote(pollID: poll.pollID, sub: identity.sub, choices: choices, at: now)
    }

    /// The counts added since the last call, by poll; the box starts counting from zero again.
    public mutating func takeDeltas() -> [String: Tally] {
        guard !deltas.isEmpty else { return [:] }
        defer { deltas.removeAll(keepingCapacity: true) }
        return deltas
    }

    /// Forgets idle rate-limit buckets (those refilled completely: they behave exactly like new ones).
    public mutating func prune(at now: Timestamp) {
        limiter.prune(at: now)
    }

    /// Prunes when `pruneInterval` has passed since the last prune (the first call only starts the clock).
    public mutating func pruneIfDue(at now: Timestamp) {
        guard let last = lastPrune else {
            lastPrune = now
            return
        }
        guard last.duration(to: now) >= Self.pruneInterval else { return }
        lastPrune = now
        prune(at: now)
    }

    /// The ballots this box holds, by live poll and `sub` (a room checkpoint keeps them).
    public var heldBallots: [String: [String: Choices]] { ballots }

    /// Ballots held, over all polls (for metrics and tests).
    public var ballotCount: Int { ballots.values.reduce(0) { $0 + $1.count } }

    /// Voters with a rate-limit bucket in this box (for metrics and tests).
    public var trackedVoters: Int { limiter.trackedCount }
}
