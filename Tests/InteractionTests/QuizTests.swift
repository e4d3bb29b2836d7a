import Testing
import Interaction

/// A quiz of three 10-second questions whose correct answer is option 1.
func quizDraft(questions: Int = 3, windowSeconds: Int = 10) -> ClientMessage.QuizDraft {
    ClientMessage.QuizDraft(title: "Trivia", questions: (0..<questions).map { number in
        QuizDefinition.Question(prompt: "Question \(number)?", options: ["a", "b", "c", "d"],
                                correct: Choices(index: 1) ?? [], windowSeconds: windowSeconds)
    })
}

extension Room {
    mutating func startQuiz(questions: Int = 3, windowSeconds: Int = 10, at now: Timestamp = t0) -> String {
        let quizID = send(.quizCreate(quizDraft(questions: questions, windowSeconds: windowSeconds)), from: host).ackRef ?? ""
        send(.quizNext(.init(quizID: quizID)), from: host, at: now)
        return quizID
    }

    @discardableResult
    mutating func answer(_ quizID: String, question: Int, _ choice: Int, by identity: Identity, at now: Timestamp,
                         shownAt: Timestamp? = nil, latencyMs: Int? = nil, bound: Duration = .zero) -> RoomUpdate {
        send(.quizAnswer(.init(quizID: quizID, question: question, choices: [choice], shownAt: shownAt,
                               displayLatencyMs: latencyMs)),
             from: identity, at: now, context: RequestTiming(maxDisplayLatency: bound))
    }

    mutating func nextQuestion(_ quizID: String, at now: Timestamp) {
        send(.quizClose(.init(quizID: quizID)), from: host, at: now)
        send(.quizReveal(.init(quizID: quizID)), from: host, at: now)
        send(.quizNext(.init(quizID: quizID)), from: host, at: now)
    }
}

@Suite("Quizzes")
struct QuizTests {
    let scoring = QuizScoring()

    @Test("full points within 0.5 s, falling linearly to half at the deadline", arguments: [
        (0.0, 1000), (0.25, 1000), (0.5, 1000), (0.6, 995), (5.25, 750), (10.0, 500), (12.0, 500), (-3.0, 1000),
    ])
    func basePoints(seconds: Double, expected: Int) {
        let points = scoring.basePoints(responseTime: .milliseconds(Int64(seconds * 1000)), window: .seconds(10))
        #expect(points == expected)
    }

    @Test("a wrong answer scores nothing")
    func wrongScoresZero() {
        #expect(scoring.points(correct: false, responseTime: .zero, window: .seconds(10), streak: 0) == 0)
    }

    @Test("streak bonus is +100 per consecutive correct answer beyond the first, capped at +500",
          arguments: [(1, 0), (2, 100), (3, 200), (6, 500), (50, 500), (Int.max, 500)])
    func streakBonus(streak: Int, bonus: Int) {
        #expect(scoring.streakBonus(streak: streak) == bonus)
    }

    @Test("answers score by speed and streak, and a wrong or skipped answer breaks the streak")
    func streaksInRoom() {
        var room = makeRoom()
        let quizID = room.startQuiz(questions: 4)
        let alice = viewer(1), bob = viewer(2)
        room.answer(quizID, question: 0, 1, by: alice, at: at(0.2))
        room.answer(quizID, question: 0, 0, by: bob, at: at(0.2))
        room.nextQuestion(quizID, at: at(20))
        room.answer(quizID, question: 1, 1, by: alice, at: at(20.3))
        room.answer(quizID, question: 1, 1, by: bob, at: at(30))
        room.nextQuestion(quizID, at: at(40))
        // Alice skips question 2; Bob answers it.
        room.answer(quizID, question: 2, 1, by: bob, at: at(40.1))
        room.nextQuestion(quizID, at: at(60))
        room.answer(quizID, question: 3, 1, by: alice, at: at(60.1))
        room.answer(quizID, question: 3, 1, by: bob, at: at(60.1))
        let board = room.quiz(withID: quizID)?.leaderboard
        // Alice: 1000, 1000+100, (skip), 1000 (streak reset) = 3100.
        #expect(board?.score(of: alice.sub) == 3100)
        // Bob: 0, 500 (at deadline, streak 1), 1000+100, 1000+200 = 2800.
        #expect(board?.score(of: bob.sub) == 2800)
    }

    @Test("response time runs from the viewer's display time, clamped to the verified bound")
    func clampedDisplayLatency() {
        var room = makeRoom { $0.maxDisplayLatency = .seconds(3) }
        let quizID = room.startQuiz(questions: 1)
        // Saw it 2 s late (verified up to 2 s): answered 0.4 s after seeing it → full points.
        room.answer(quizID, question: 0, 1, by: viewer(1), at: at(2.4), shownAt: at(2), bound: .seconds(2))
        // Claims 5 s of latency but the server verifies only 1 s: timed from t0+1 → 4.2 s.
        room.answer(quizID, question: 0, 1, by: viewer(2), at: at(5.2), shownAt: at(5), bound: .seconds(1))
        // Claims to have seen it before it was sent: timed from t0.
        room.answer(quizID, question: 0, 1, by: viewer(3), at: at(0.4), shownAt: at(-5), bound: .seconds(3))
        // A caller bound above the channel maximum is capped to it (3 s): timed from t0+3.
        room.answer(quizID, question: 0, 1, by: viewer(4), at: at(3.4), latencyMs: 9_000, bound: .seconds(30))
        // No claim: server time.
        room.answer(quizID, question: 0, 1, by: viewer(5), at: at(5.25))
        let board = room.quiz(withID: quizID)?.leaderboard
        #expect(board?.score(of: "user-1") == 1000)
        #expect(board?.score(of: "user-2") == scoring.basePoints(responseTime: .milliseconds(4_200), window: .seconds(10)))
        #expect(board?.score(of: "user-3") == 1000)
        #expect(board?.score(of: "user-4") == 1000)
        #expect(board?.score(of: "user-5") == 750)
    }

    @Test("an answer after the viewer's own window, a second answer, or to another question is refused")
    func answerRules() {
        var room = makeRoom { $0.maxDisplayLatency = .seconds(2) }
        let quizID = room.startQuiz(questions: 2)
        #expect(room.answer(quizID, question: 0, 1, by: viewer(1), at: at(10.5)).errorCode == .answerClosed)
        #expect(room.answer(quizID, question: 0, 1, by: viewer(2), at: at(11.5), shownAt: at(2), bound: .seconds(2)).isAck)
        #expect(room.answer(quizID, question: 0, 2, by: viewer(2), at: at(3)).errorCode == .alreadyAnswered)
        #expect(room.answer(quizID, question: 1, 1, by: viewer(3), at: at(1)).errorCode == .answerClosed)
        #expect(room.answer(quizID, question: 0, 9, by: viewer(3), at: at(1)).errorCode == .unknownOption)
        #expect(room.answer("z404", question: 0, 1, by: viewer(3), at: at(1)).errorCode == .notFound)
    }

    @Test("a question closes on the tick after its window plus the display-latency grace")
    func autoClose() {
        var room = makeRoom { $0.maxDisplayLatency = .seconds(2) }
        let quizID = room.startQuiz(questions: 1)
        #expect(room.tick(at: at(11.9)).records.isEmpty)
        let tick = room.tick(at: at(12))
        #expect(tick.records == [.quizQuestionClosed(quizID: quizID, index: 0, at: at(12))])
        #expect(room.quiz(withID: quizID)?.phase == .closed(index: 0))
        #expect(room.answer(quizID, question: 0, 1, by: viewer(1), at: at(12.1), shownAt: at(2), bound: .seconds(2))
            .errorCode == .answerClosed)
    }

    @Test("the correct answer is sent only on reveal, with the leaderboard and each player's own standing")
    func revealAndLeaderboard() {
        var room = makeRoom { $0.leaderboardSize = 2 }
        let quizID = room.startQuiz(questions: 2)
        room.answer(quizID, question: 0, 1, by: viewer(1), at: at(0.1))
        room.answer(quizID, question: 0, 1, by: viewer(2), at: at(0.1))
        room.answer(quizID, question: 0, 1, by: viewer(3), at: at(10))
        room.answer(quizID, question: 0, 0, by: viewer(4), at: at(1))
        let close = room.send(.quizClose(.init(quizID: quizID)), from: host, at: at(11))
        for message in close.messages(for: viewer(1)) {
            if case .quiz(let view) = message { #expect(view.question?.correct == nil) }
        }
        let reveal = room.send(.quizReveal(.init(quizID: quizID)), from: host, at: at(12))
        let messages = reveal.messages(for: viewer(3))
        let view = only(messages) { if case .quiz(let view) = $0 { view } else { nil } }.first
        #expect(view?.question?.correct == Choices(index: 1))
        #expect(view?.question?.counts?.counts == [1, 3, 0, 0])
        let board = only(messages) { if case .leaderboard(let board) = $0 { board } else { nil } }.first
        #expect(board?.top.map(\.rank) == [1, 1])
        #expect(board?.players == 4)
        let own = only(messages) { if case .standing(let standing) = $0 { standing } else { nil } }
        #expect(own == [Standing(sub: "user-3", name: "User 3", score: 500, rank: 3, correctAnswers: 1)])
        #expect(room.standing(of: "user-4", inQuiz: quizID)?.rank == 4)
        #expect(room.snapshot(for: viewer(2)).standing?.rank == 1)
    }

    @Test("leaderboard ranks share places on equal scores")
    func ranks() {
        var board = Leaderboard()
        board.add(300, correct: true, to: "a", name: "A")
        board.add(500, correct: true, to: "b", name: "B")
        board.add(300, correct: true, to: "c", name: "C")
        board.add(100, correct: true, to: "d", name: "D")
        #expect(board.ranked().map(\.rank) == [1, 2, 2, 4])
        #expect(board.ranked().map(\.sub) == ["b", "a", "c", "d"])
        #expect(board.top(2).map(\.sub) == ["b", "a"])
        #expect(board.standing(of: "c")?.rank == 2)
        #expect(board.standing(of: "zz") == nil)
    }

    @Test("quiz lifecycle: next needs a closed question, and the quiz ends after its last")
    func lifecycle() {
        var room = makeRoom()
        let quizID = room.startQuiz(questions: 1)
        #expect(room.send(.quizNext(.init(quizID: quizID)), from: host).errorCode == .invalidState)
        #expect(room.send(.quizReveal(.init(quizID: quizID)), from: host).isAck)
        #expect(room.send(.quizNext(.init(quizID: quizID)), from: host).errorCode == .invalidState)
        #expect(room.send(.quizEnd(.init(quizID: quizID)), from: host).isAck)
        #expect(room.send(.quizEnd(.init(quizID: quizID)), from: host).errorCode == .invalidState)
    }

    @Test("a quiz with a bad question is refused", arguments: [
        QuizDefinition.Question(prompt: "?", options: ["a"], correct: Choices(index: 0) ?? [], windowSeconds: 10),
        QuizDefinition.Question(prompt: "?", options: ["a", "b"], correct: [], windowSeconds: 10),
        QuizDefinition.Question(prompt: "?", options: ["a", "b"], correct: Choices(index: 5) ?? [], windowSeconds: 10),
        QuizDefinition.Question(prompt: "?", options: ["a", "b"], correct: Choices(index: 0) ?? [], windowSeconds: 0),
        QuizDefinition.Question(prompt: " ", options: ["a", "b"], correct: Choices(index: 0) ?? [], windowSeconds: 10),
    ])
    func badQuiz(question: QuizDefinition.Question) {
        var room = makeRoom()
        #expect(room.send(.quizCreate(.init(title: "T", questions: [question])), from: host).errorCode == .badRequest)
    }
}
