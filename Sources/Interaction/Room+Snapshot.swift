import OrderedCollections

extension Room {
    /// The room as `identity` may see it (the `hello` snapshot). Staff also see draft polls, live counts and pending
    /// questions; a viewer sees their own shadow-banned messages and pending questions but nobody else's.
    public func snapshot(for identity: Identity) -> RoomSnapshot {
        let staff = identity.role.isStaff
        let visiblePolls = polls.values.filter { staff || $0.phase != .draft }
            .suffix(max(configuration.snapshotPollCount, 0))
            .map { PollView($0, includeTally: staff) }
        let latestQuiz = quizzes.values.last { staff || $0.phase != .ready }
        var questions = qanda.ordered(includePending: staff, limit: configuration.snapshotQuestionCount)
        if !staff {
            questions += qanda.questions.values.filter { $0.sub == identity.sub && $0.status == .pending }
        }
        return RoomSnapshot(
            polls: Array(visiblePolls),
            quiz: latestQuiz.map(QuizView.init),
            chat: chat.recent(configuration.snapshotChatCount, visibleTo: identity.sub),
            questions: questions,
            leaderboard: latestQuiz?.leaderboard.top(configuration.leaderboardSize) ?? [],
            standing: latestQuiz?.leaderboard.standing(of: identity.sub),
            supporters: gifts.topSupporters(configuration.supportersSize),
            offers: offers.visibleCards,
            sponsorClicks: staff ? sponsorClickCounts : nil,
            viewers: viewers,
            slowModeSeconds: chat.slowModeSeconds,
            allowedReactions: configuration.allowedReactions,
            gifts: gifts.catalogueOrder,
            sync: configuration.syncTargets
        )
    }
}

extension Room {
    /// The poll with this id.
    public func poll(withID pollID: String) -> Poll? { polls[pollID] }

    /// The quiz with this id.
    public func quiz(withID quizID: String) -> Quiz? { quizzes[quizID] }

    /// Every sponsored poll, then every sponsored quiz, in creation order, with the clicks on its sponsor (for staff:
    /// the snapshot's `sponsorClicks` and `GET …/sponsors`).
    public var sponsorClickCounts: [SponsorClicks.ClickCount] {
        let sponsoredPolls = polls.values.compactMap { poll in
            poll.definition.sponsor.map { sponsorClicks.clickCount(.poll(poll.pollID), sponsor: $0) }
        }
        let sponsoredQuizzes = quizzes.values.compactMap { quiz in
            quiz.definition.sponsor.map { sponsorClicks.clickCount(.quiz(quiz.quizID), sponsor: $0) }
        }
        return sponsoredPolls + sponsoredQuizzes
    }

    /// The Q&A question with this id.
    public func question(withID questionID: String) -> Question? { qanda.question(questionID) }
}

extension Room {
    /// Every poll, in creation order.
    public var pollsInOrder: [Poll] { Array(polls.values) }

    /// Every quiz, in creation order.
    public var quizzesInOrder: [Quiz] { Array(quizzes.values) }
}
