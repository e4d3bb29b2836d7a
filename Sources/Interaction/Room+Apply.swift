import OrderedCollections

extension Room {
    /// Applies one durable event to the state. The one code path for both live requests (after validation) and replay,
    /// so a restored room matches the one that wrote the records. Throws only where the record does not fit the
    /// state, before changing anything.
    mutating func apply(_ record: Record) throws(InteractionError) {
        switch record {
        case .chatPosted(let message, let shadow):
            ids.observe(message.messageID)
            chat.post(message, shadow: shadow)
        case .chatDeleted(let messageID, _, _):
            try chat.delete(messageID)
        case .chatSettingsChanged(let slowModeSeconds, let filterWords, _, _):
            if let slowModeSeconds {
                chat.slowModeSeconds = slowModeSeconds
                chatOverrides.slowModeSeconds = slowModeSeconds
            }
            if let filterWords {
                chat.filter = WordFilter(filterWords)
                chatOverrides.filterWords = filterWords
            }
        case .moderation(let action, let by, _, let role):
            moderation.apply(action, placedBy: role)
            if let role { noteStaff(by, role) }
            if case .ban(let sub) = action, configuration.purgesMessagesOnBan { _ = chat.purge(sub) }
        case .pollCreated(let definition, let by, _):
            guard polls[definition.pollID] == nil else { throw InteractionError(.conflict, "poll \(definition.pollID) exists") }
            noteStaff(by, .host)
            ids.observe(definition.pollID)
            polls[definition.pollID] = Poll(definition: definition)
        case .pollLaunched(let pollID, let at):
            try updatePoll(pollID) { poll throws(InteractionError) in try poll.launch(at: at) }
        case .pollClosed(let pollID, let at):
            try updatePoll(pollID) { poll throws(InteractionError) in try poll.close(at: at) }
        case .pollRevealed(let pollID, let at):
            try updatePoll(pollID) { poll throws(InteractionError) in try poll.reveal(at: at) }
        case .vote(let pollID, let sub, let choices, let at):
            try updatePoll(pollID) { poll throws(InteractionError) in
                _ = try poll.vote(choices, by: sub, at: at, enforcingDeadline: false)
            }
        case .quizCreated(let definition, let by, _):
            guard quizzes[definition.quizID] == nil else { throw InteractionError(.conflict, "quiz \(definition.quizID) exists") }
            noteStaff(by, .host)
            ids.observe(definition.quizID)
            quizzes[definition.quizID] = Quiz(definition: definition)
        case .quizQuestionShown(let quizID, _, let at):
            try updateQuiz(quizID) { quiz throws(InteractionError) in _ = try quiz.showNext(at: at) }
        case .quizQuestionClosed(let quizID, _, let at):
            try updateQuiz(quizID) { quiz throws(InteractionError) in try quiz.closeQuestion(at: at) }
        case .quizQuestionRevealed(let quizID, _, let at):
            try updateQuiz(quizID) { quiz throws(InteractionError) in try quiz.reveal(at: at) }
        case .quizEnded(let quizID, let at):
            try updateQuiz(quizID) { quiz throws(InteractionError) in try quiz.end(at: at) }
        case .quizAnswer(let quizID, let index, let sub, let name, let choices, let milliseconds, _):
            let scoring = configuration.scoring
            try updateQuiz(quizID) { quiz throws(InteractionError) in
                _ = try quiz.answer(question: index, choices: choices, by: sub, name: name,
                                    responseTime: .milliseconds(milliseconds), scoring: scoring)
            }
        case .questionAsked(let question):
            guard qanda.question(question.questionID) == nil else {
                throw InteractionError(.conflict, "question \(question.questionID) exists")
            }
            ids.observe(question.questionID)
            qanda.ask(question)
        case .questionUpvoted(let questionID, let sub, _):
            try qanda.upvote(questionID, by: sub)
        case .questionModerated(let questionID, let action, _, _):
            try qanda.moderate(questionID, action)
        case .giftSent(let event):
            ids.observe(event.giftEventID)
            gifts.record(event)
        case .offerShown(let offer, _):
            offers.show(offer)
        case .offerHidden(let offerID, _):
            try offers.hide(offerID)
        case .offerClicked(let offerID, let sub, _, _):
            try offers.click(offerID, by: sub)
        case .sponsorClicked(let interaction, let sub, _, _):
            _ = try sponsor(of: interaction, onScreen: false)
            sponsorClicks.click(interaction, by: sub)
        case .broadcastStarted, .broadcastEnded, .viewerSample, .reactionsCounted:
            sampler.apply(record)
        }
    }

    /// Remembers that `sub` acted as `role` (from the records, so a restarted room still knows its staff).
    mutating func noteStaff(_ sub: String, _ role: Role) {
        guard role.isStaff, staffRoles[sub].map({ $0 < role }) ?? true else { return }
        staffRoles[sub] = role
    }

    /// Mutates a poll in place (no copy of its ballot map).
    @discardableResult
    mutating func updatePoll<Result>(_ pollID: String,
                                     _ body: (inout Poll) throws(InteractionError) -> Result) throws(InteractionError) -> Result {
        guard let index = polls.index(forKey: pollID) else { throw .notFound("poll", pollID) }
        return try body(&polls.values[index])
    }

    /// Mutates a quiz in place.
    @discardableResult
    mutating func updateQuiz<Result>(_ quizID: String,
                                     _ body: (inout Quiz) throws(InteractionError) -> Result) throws(InteractionError) -> Result {
        guard let index = quizzes.index(forKey: quizID) else { throw .notFound("quiz", quizID) }
        return try body(&quizzes.values[index])
    }

    func poll(_ pollID: String) throws(InteractionError) -> Poll {
        guard let poll = polls[pollID] else { throw .notFound("poll", pollID) }
        return poll
    }

    /// The sponsor of a sponsored poll or quiz; `not_found` when there is no such poll or quiz or it has no sponsor, and,
    /// with `onScreen`, while viewers cannot see it yet (a draft poll, a quiz before its first question).
    func sponsor(of interaction: SponsoredInteraction, onScreen: Bool) throws(InteractionError) -> Sponsor {
        let sponsor: Sponsor?
        let hidden: Bool
        switch interaction {
        case .poll(let pollID):
            let poll = polls[pollID]
            sponsor = poll?.definition.sponsor
            hidden = poll?.phase == .draft
        case .quiz(let quizID):
            let quiz = quizzes[quizID]
            sponsor = quiz?.definition.sponsor
            hidden = quiz?.phase == .ready
        }
        guard let sponsor, !(onScreen && hidden) else { throw .notFound("sponsored \(interaction.kind.rawValue)", interaction.id) }
        return sponsor
    }

    func quiz(_ quizID: String) throws(InteractionError) -> Quiz {
        guard let quiz = quizzes[quizID] else { throw .notFound("quiz", quizID) }
        return quiz
    }
}
