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
}

/// One shard of a room's poll ballots: the hot path of a vote burst, outside the room.
///
/// A server keeps several boxes per room and sends each voter to the same box (by a hash of `sub`), so the per-user
/// ballot map that deduplicates votes is split across boxes and each box can sit behind its own lock. A box judges a
/// vote against `PollRules` (the same checks `Poll.vote` makes), remembers the ballot, counts it into a per-poll
/// delta `Tally`, and returns the `Record` to commit; the room never sees single votes, only the deltas it merges on
/// its tick (`Room.mergeTallies`). Deterministic and free of I/O, like the room.
public struct BallotBox: Sendable {
    private var rules: [String: PollRules] = [:]
    /// The ballot of each voter of this box, per live poll.
    private var ballots: [String: [String: Choices]] = [:]
    private var deltas: [String: Tally] = [:]
    /// Polls closed through `close` before the room's next `update` (they answer `poll_closed`, not `not_found`).
    private var closed: Set<String> = []
    private var limiter: RateLimiter

    /// - Parameters:
    /// - Parameter rateLimit: the channel's per-user vote limit (nil: none).
    public init(rateLimit: RateLimit?) {
        self.limiter = RateLimiter(rateLimit)
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

    /// Judges and counts one vote. On success the ballot is counted into the poll's delta and the returned record
    /// must be committed before the vote is acknowledged; on failure nothing changed (the rate-limit token is given
    /// back).
    public mutating func vote(_ vote: ClientMessage.PollVote, from identity: Identity, at now: Timestamp,
                              displayLatency: Duration = .zero) throws(InteractionError) -> Record {
        guard identity.role >= ClientMessage.Kind.pollVote.requiredRole else {
            throw InteractionError(.forbidden, "poll.vote needs the \(ClientMessage.Kind.pollVote.requiredRole.rawValue) role")
        }
        guard let choices = Choices(indices: vote.choices) else {
            throw InteractionError(.unknownOption, "no such option on poll \(vote.pollID)")
        }
        guard let poll = rules[vote.pollID] else {
            if closed.contains(vote.pollID) {
                throw InteractionError(.pollClosed, "poll \(vote.pollID) is not taking ballots")
            }
            throw .notFound("poll", vote.pollID)
        }
        try limiter.take(for: identity.sub, at: now)
        do throws(InteractionError) {
            try judge(choices, on: poll, at: now, displayLatency: displayLatency)
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
        } catch {
            limiter.refund(for: identity.sub)
            throw error
        }
        return .vote(pollID: poll.pollID, sub: identity.sub, choices: choices, at: now)
    }

    /// The counts added since the last call, by poll; the box starts counting from zero again.
    public mutating func takeDeltas() -> [String: Tally] {
        guard !deltas.isEmpty else { return [:] }
        defer { deltas.removeAll(keepingCapacity: true) }
        return deltas
    }

    /// Forgets idle rate-limit buckets.
    public mutating func prune(at now: Timestamp) {
        limiter.prune(at: now)
    }

    /// Ballots held, over all polls (for metrics and tests).
    public var ballotCount: Int { ballots.values.reduce(0) { $0 + $1.count } }

    private func judge(_ choices: Choices, on poll: PollRules, at now: Timestamp,
                       displayLatency: Duration) throws(InteractionError) {
        guard poll.phase == .live else {
            throw InteractionError(.pollClosed, "poll \(poll.pollID) is not taking ballots")
        }
        if let deadline = poll.deadline, now >= deadline + min(max(displayLatency, .zero), poll.grace) {
            throw InteractionError(.pollClosed, "poll \(poll.pollID) is not taking ballots")
        }
        guard choices.count > 0 else { throw .badRequest("a ballot chooses at least one option") }
        guard choices.fits(optionCount: poll.optionCount) else {
            throw InteractionError(.unknownOption, "poll \(poll.pollID) has \(poll.optionCount) options")
        }
        guard poll.multipleChoice || choices.count == 1 else {
            throw .badRequest("poll \(poll.pollID) takes a single choice")
        }
    }
}
