/// A poll's state machine: `draft → live → closed → revealed`, one ballot per user, a running `Tally`.
///
/// Invariants: `tally` equals the sum of `ballots` plus the deltas merged from ballot boxes (`mergeCounted`: a server
/// that counts in `BallotBox` shards keeps the ballots there); ballots are accepted only while live and before the
/// deadline; results go to viewers only once revealed (the room enforces that when it builds views).
public struct Poll: Sendable, Hashable, Codable {
    /// Where a poll is in its lifecycle.
    public enum Phase: String, Sendable, Hashable, Codable {
        case draft, live, closed, revealed
    }

    public let definition: PollDefinition
    public private(set) var phase: Phase = .draft
    public private(set) var launchedAt: Timestamp?
    /// When a windowed poll stops taking ballots; nil for a manual poll or a draft.
    public private(set) var deadline: Timestamp?
    public private(set) var closedAt: Timestamp?
    /// The ballot of each voter, by `sub`: the dedup set and the source for changing a vote.
    public internal(set) var ballots: [String: Choices] = [:]
    public private(set) var tally: Tally

    public init(definition: PollDefinition) {
        self.definition = definition
        self.tally = Tally(optionCount: definition.options.count)
    }

    public var pollID: String { definition.pollID }

    /// How a ballot changed the poll.
    public enum VoteOutcome: Sendable, Hashable {
        case counted
        case changed(from: Choices)
        case unchanged
    }

    /// Opens the poll for ballots.
    public mutating func launch(at now: Timestamp) throws(InteractionError) {
        guard phase == .draft else { throw .invalidState("poll \(pollID) is \(phase.rawValue), not draft") }
        phase = .live
        launchedAt = now
        deadline = definition.windowSeconds.map { now + .seconds($0) }
    }

    /// Counts a ballot from `sub`. O(1): one dictionary lookup and at most two tally updates.
    /// `enforcingDeadline: false` replays a ballot that was accepted late on purpose (a viewer whose playhead showed
    /// the poll later, within the room's grace): the log's order, not the clock, says it came before the close.
    @discardableResult
    public mutating func vote(_ choices: Choices, by sub: String, at now: Timestamp,
                              enforcingDeadline: Bool = true) throws(InteractionError) -> VoteOutcome {
        guard phase == .live, !enforcingDeadline || isOpen(at: now) else {
            throw InteractionError(.pollClosed, "poll \(pollID) is not taking ballots")
        }
        guard choices.count > 0 else { throw .badRequest("a ballot chooses at least one option") }
        guard choices.fits(optionCount: definition.options.count) else {
            throw InteractionError(.unknownOption, "poll \(pollID) has \(definition.options.count) options")
        }
        guard definition.multipleChoice || choices.count == 1 else {
            throw .badRequest("poll \(pollID) takes a single choice")
        }
        if let previous = ballots[sub] {
            guard definition.allowsChanges else { throw InteractionError(.alreadyVoted, "you already voted on poll \(pollID)") }
            if previous == choices { return .unchanged }
            tally.remove(previous)
            tally.add(choices)
            ballots[sub] = choices
            return .changed(from: previous)
        }
        ballots[sub] = choices
        tally.add(choices)
        return .counted
    }

    /// Adds counts from a ballot box (ballots judged and deduplicated outside the room).
    public mutating func mergeCounted(_ delta: Tally) {
        tally.merge(delta)
    }

    /// Whether a ballot cast at `now` would be accepted (live and before the deadline).
    public func isOpen(at now: Timestamp) -> Bool {
        guard phase == .live else { return false }
        if let deadline { return now < deadline }
        return true
    }

    /// Whether the poll is live but its window has passed: the next tick closes it.
    public func isExpired(at now: Timestamp) -> Bool {
        guard phase == .live, let deadline else { return false }
        return now >= deadline
    }

    /// Stops taking ballots.
    public mutating func close(at now: Timestamp) throws(InteractionError) {
        guard phase == .live else { throw .invalidState("poll \(pollID) is \(phase.rawValue), not live") }
        phase = .closed
        closedAt = now
    }

    /// Makes the results public. A live poll is closed first.
    public mutating func reveal(at now: Timestamp) throws(InteractionError) {
        switch phase {
        case .live: try close(at: now)
        case .closed: break
        case .draft, .revealed: throw .invalidState("poll \(pollID) is \(phase.rawValue), not closed")
        }
        phase = .revealed
    }
}
