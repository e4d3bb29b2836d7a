import OrderedCollections

extension Room {
    /// Host actions on polls and quizzes.
    mutating func performHostInteraction(_ message: ClientMessage, from identity: Identity, at now: Timestamp,
                                         into effects: inout Effects) throws(InteractionError) {
        let by = identity.sub
        switch message {
        case .pollCreate(let draft):
            let definition = PollDefinition(pollID: "p\(ids.last &+ 1)", question: draft.question.trimmingWhitespace,
                                            options: draft.options.map(\.trimmingWhitespace),
                                            multipleChoice: draft.multipleChoice ?? false, windowSeconds: draft.windowSeconds,
                                            allowsChanges: draft.allowChanges ?? configuration.ballotChangesAllowed,
                                            sponsor: draft.sponsor)
            try definition.validate(maxTextLength: configuration.maxTextLength)
            _ = ids.next("p")
            try commit(.pollCreated(definition: definition, by: by, at: now), into: &effects)
            let poll = try poll(definition.pollID)
            emit(.poll(PollView(poll, includeTally: true)), to: .staff, into: &effects)
            effects.ref = definition.pollID
        case .pollLaunch(let target):
            try commit(.pollLaunched(pollID: target.pollID, at: now), into: &effects)
            windowCues[target.pollID] = effects.cue
            emitPollState(target.pollID, into: &effects)
        case .pollClose(let target):
            try commit(.pollClosed(pollID: target.pollID, at: now), into: &effects)
            emitPollState(target.pollID, into: &effects)
        case .pollReveal(let target):
            try commit(.pollRevealed(pollID: target.pollID, at: now), into: &effects)
            emitPollState(target.pollID, into: &effects)
        case .quizCreate(let draft):
            let definition = QuizDefinition(quizID: "z\(ids.last &+ 1)", title: draft.title.trimmingWhitespace,
                                            questions: draft.questions, sponsor: draft.sponsor)
            try definition.validate(maxTextLength: configuration.maxTextLength)
            _ = ids.next("z")
            try commit(.quizCreated(definition: definition, by: by, at: now), into: &effects)
            let quiz = try quiz(definition.quizID)
            emit(.quiz(QuizView(quiz)), to: .staff, into: &effects)
            effects.ref = definition.quizID
        case .quizNext(let target):
            let index = (try quiz(target.quizID).currentIndex).map { $0 + 1 } ?? 0
            try commit(.quizQuestionShown(quizID: target.quizID, index: index, at: now), into: &effects)
            windowCues[target.quizID] = effects.cue
            emitQuizState(target.quizID, into: &effects)
        case .quizClose(let target):
            let index = try quiz(target.quizID).currentIndex ?? -1
            try commit(.quizQuestionClosed(quizID: target.quizID, index: index, at: now), into: &effects)
            emitQuizState(target.quizID, into: &effects)
        case .quizReveal(let target):
            let index = try quiz(target.quizID).currentIndex ?? -1
            try commit(.quizQuestionRevealed(quizID: target.quizID, index: index, at: now), into: &effects)
            emitQuizState(target.quizID, into: &effects)
            emitLeaderboard(target.quizID, withStandings: configuration.sendsStandingsOnReveal, into: &effects)
        case .quizEnd(let target):
            try commit(.quizEnded(quizID: target.quizID, at: now), into: &effects)
            emitQuizState(target.quizID, into: &effects)
            emitLeaderboard(target.quizID, withStandings: false, into: &effects)
        default:
            throw .badRequest("not a poll or quiz action")
        }
    }

    /// Sends a poll's new state: the viewer view to everyone, with the counts to staff (and to everyone once revealed).
    mutating func emitPollState(_ pollID: String, into effects: inout Effects) {
        guard let poll = polls[pollID] else { return }
        emit(.poll(PollView(poll, includeTally: false)), to: .everyone, into: &effects)
        let counts = ServerMessage.TallyView(pollID: pollID, counts: poll.tally.counts, ballots: poll.tally.ballots)
        switch poll.phase {
        case .revealed: emit(.results(counts), to: .everyone, into: &effects)
        case .closed: emit(.tally(counts), to: .staff, replayable: false, into: &effects)
        case .draft, .live: break
        }
    }

    mutating func emitQuizState(_ quizID: String, into effects: inout Effects) {
        guard let quiz = quizzes[quizID] else { return }
        emit(.quiz(QuizView(quiz)), to: .everyone, into: &effects)
    }

    /// Sends the top of the leaderboard to everyone and, if asked, each player's own standing to them alone.
    mutating func emitLeaderboard(_ quizID: String, withStandings: Bool, into effects: inout Effects) {
        guard let quiz = quizzes[quizID] else { return }
        let ranked = quiz.leaderboard.ranked()
        let top = Array(ranked.prefix(max(configuration.leaderboardSize, 0)))
        emit(.leaderboard(.init(quizID: quizID, top: top, players: ranked.count)), to: .everyone, into: &effects)
        guard withStandings else { return }
        effects.broadcasts.reserveCapacity(effects.broadcasts.count + ranked.count)
        for standing in ranked {
            emit(.standing(standing), to: .only(standing.sub), replayable: false, into: &effects)
        }
    }

    /// The standing of `sub` in a quiz (rank among all players), for servers that send it on demand.
    public func standing(of sub: String, inQuiz quizID: String) -> Standing? {
        quizzes[quizID]?.leaderboard.standing(of: sub)
    }
}
