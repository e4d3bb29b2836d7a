import OrderedCollections

extension Room {
    /// How often the tick forgets idle rate-limit buckets, slow-mode times and expired timeouts.
    static let pruneInterval: Duration = .seconds(60)

    /// The periodic flush, every 100–200 ms: closes polls and quiz questions whose window has passed (their records
    /// must be committed like any other), sends live tallies to staff, and aggregated counts (reactions, question
    /// votes, offer and sponsor clicks, supporters, viewers) as one message each — never one per tap.
    public mutating func tick(at now: Timestamp) -> RoomUpdate {
        var effects = Effects()
        closeExpiredPolls(at: now, into: &effects)
        closeExpiredQuestions(at: now, into: &effects)
        for poll in polls.values where poll.phase == .live {
            let view = ServerMessage.TallyView(pollID: poll.pollID, counts: poll.tally.counts, ballots: poll.tally.ballots)
            emit(.tally(view), to: .staff, replayable: false, into: &effects)
        }
        if let counts = reactions.flush() {
            sampler.count(counts)
            emit(.reactions(.init(counts: counts)), to: .everyone, replayable: false, into: &effects)
        }
        if !questionVotesChanged.isEmpty {
            var votes: [String: Int] = [:]
            for questionID in questionVotesChanged {
                if let question = qanda.question(questionID), question.status.isPublic { votes[questionID] = question.votes }
            }
            questionVotesChanged.removeAll(keepingCapacity: true)
            if !votes.isEmpty { emit(.questionVotes(.init(votes: votes)), to: .everyone, replayable: false, into: &effects) }
        }
        for offerID in offerClicksChanged.sorted() {
            if let entry = offers.entries[offerID] {
                let clicks = ServerMessage.OfferClicks(offerID: offerID, clicks: entry.clicks, uniqueClicks: entry.clickers.count)
                emit(.offerClicks(clicks), to: .staff, replayable: false, into: &effects)
            }
        }
        offerClicksChanged.removeAll(keepingCapacity: true)
        for interaction in sponsorClicksChanged.sorted(by: { $0.description < $1.description }) {
            if let sponsor = try? sponsor(of: interaction, onScreen: false) {
                emit(.sponsorClicks(sponsorClicks.clickCount(interaction, sponsor: sponsor)), to: .staff, replayable: false,
                     into: &effects)
            }
        }
        sponsorClicksChanged.removeAll(keepingCapacity: true)
        if supportersChanged {
            supportersChanged = false
            emit(.supporters(.init(top: gifts.topSupporters(configuration.supportersSize))), to: .everyone,
                 replayable: false, into: &effects)
        }
        // The count changes with every join during a ramp; viewers hear it at most twice a second.
        if viewers != lastViewersSent, lastViewersSentAt.map({ $0.duration(to: now) >= Self.viewerCountInterval }) ?? true {
            lastViewersSent = viewers
            lastViewersSentAt = now
            emit(.viewers(.init(count: viewers)), to: .everyone, replayable: false, into: &effects)
        }
        sampleAudience(at: now, into: &effects)
        prune(at: now)
        return RoomUpdate(broadcasts: effects.broadcasts, records: effects.records)
    }

    /// The polls the next `tick(at: now)` closes because their window has passed.
    public func pollsExpiring(at now: Timestamp) -> [String] {
        polls.values.filter { $0.isExpired(at: now + (.zero - pollGrace($0.pollID))) }.map(\.pollID)
    }

    /// How long a poll stays open after its deadline for viewers whose playhead reached it later: the display-latency
    /// bound when it was launched during a live broadcast (it has a cue), nothing otherwise.
    func pollGrace(_ pollID: String) -> Duration {
        windowCues[pollID] == nil ? .zero : configuration.maxDisplayLatency
    }

    /// The polls taking ballots now.
    public var livePolls: [Poll] { polls.values.filter { $0.phase == .live } }

    /// The rules of every poll, for the server's ballot boxes (hand them out again after any poll changes phase).
    public var pollRules: [PollRules] { polls.values.map { PollRules($0, grace: pollGrace($0.pollID)) } }

    /// Adds the counts of ballots judged by ballot boxes (`BallotBox.takeDeltas`) to their polls' tallies.
    public mutating func mergeTallies(_ deltas: [String: Tally]) {
        for (pollID, delta) in deltas {
            guard let index = polls.index(forKey: pollID) else { continue }
            polls.values[index].mergeCounted(delta)
        }
    }

    /// Adds reaction counts gathered by another shard or node (the server's per-event-loop counters).
    public mutating func mergeReactions(_ counts: [String: Int]) {
        reactions.merge(counts)
    }

    private mutating func closeExpiredPolls(at now: Timestamp, into effects: inout Effects) {
        let expired = polls.values.filter { $0.isExpired(at: now + (.zero - pollGrace($0.pollID))) }
        for poll in expired {
            // Closed at its deadline (plus the grace), not at the tick, so replay and results say when voting really
            // stopped. Viewers see the close where their own window ended: the launch cue plus the window.
            let closedAt = (poll.deadline ?? now) + pollGrace(poll.pollID)
            effects.cue = windowCues[poll.pollID].flatMap { cue in poll.definition.windowSeconds.map { cue.advanced(by: .seconds($0)) } }
            defer { effects.cue = nil }
            do {
                try commit(.pollClosed(pollID: poll.pollID, at: closedAt), into: &effects)
                emitPollState(poll.pollID, into: &effects)
            } catch {
                continue
            }
        }
    }

    private mutating func closeExpiredQuestions(at now: Timestamp, into effects: inout Effects) {
        let grace = configuration.maxDisplayLatency
        let expired = quizzes.values.filter { quiz in quiz.closesAt(grace: grace).map { $0 <= now } ?? false }
        for quiz in expired {
            let closedAt = quiz.closesAt(grace: grace) ?? now
            effects.cue = windowCues[quiz.quizID].flatMap { cue in quiz.currentQuestion.map { cue.advanced(by: $0.window) } }
            defer { effects.cue = nil }
            do {
                try commit(.quizQuestionClosed(quizID: quiz.quizID, index: quiz.currentIndex ?? -1, at: closedAt),
                           into: &effects)
                emitQuizState(quiz.quizID, into: &effects)
            } catch {
                continue
            }
        }
    }

    private mutating func prune(at now: Timestamp) {
        guard let last = lastPrune else {
            lastPrune = now
            return
        }
        guard last.duration(to: now) >= Self.pruneInterval else { return }
        lastPrune = now
        limits.chat.prune(at: now)
        limits.reactions.prune(at: now)
        limits.votes.prune(at: now)
        limits.questions.prune(at: now)
        limits.upvotes.prune(at: now)
        limits.gifts.prune(at: now)
        limits.clicks.prune(at: now)
        chat.pruneSlowMode(at: now)
        moderation.pruneTimeouts(at: now)
    }
}
