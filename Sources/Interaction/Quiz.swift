/// A quiz's state machine: questions shown one at a time, each `asking → closed → revealed`, then `ended`.
///
/// Answers are deduplicated per user per question and scored by `QuizScoring` at the moment they are accepted; the
/// per-question `Tally` feeds the reveal. Streaks are tracked per user by the index of their last correct answer, so a
/// skipped question breaks a streak without any work at close time (which keeps replay exact).
public struct Quiz: Sendable, Hashable, Codable {
    /// Where a quiz is.
    public enum Phase: Sendable, Hashable, Codable {
        /// Created, no question shown yet.
        case ready
        /// Question `index` is open for answers.
        case asking(index: Int)
        /// Question `index` takes no more answers; the correct answer is still secret.
        case closed(index: Int)
        /// Question `index`'s correct answer and counts are public.
        case revealed(index: Int)
        /// The quiz is over.
        case ended
    }

    /// The result of an accepted answer.
    public struct AnswerResult: Sendable, Hashable {
        public var correct: Bool
        public var points: Int
        public var streak: Int
    }

    public let definition: QuizDefinition
    public private(set) var phase: Phase = .ready
    /// When the current question was shown (server time of the host's action).
    public private(set) var shownAt: Timestamp?
    /// Answers to the current question, by `sub`.
    public private(set) var answers: [String: Choices] = [:]
    /// Counts of answers to the current question.
    public private(set) var answerTally = Tally(optionCount: 0)
    public private(set) var leaderboard = Leaderboard()
    private var streaks: [String: Streak] = [:]

    private struct Streak: Sendable, Hashable, Codable {
        var length: Int
        var lastCorrectIndex: Int
    }

    public init(definition: QuizDefinition) {
        self.definition = definition
    }

    public var quizID: String { definition.quizID }

    /// The index of the question being asked, closed or revealed.
    public var currentIndex: Int? {
        switch phase {
        case .asking(let index), .closed(let index), .revealed(let index): index
        case .ready, .ended: nil
        }
    }

    /// The question being asked, closed or revealed.
    public var currentQuestion: QuizDefinition.Question? {
        currentIndex.flatMap { definition.questions.indices.contains($0) ? definition.questions[$0] : nil }
    }

    /// Shows the next question (the first one from `ready`). The previous one must be closed or revealed.
    public mutating func showNext(at now: Timestamp) throws(InteractionError) -> Int {
        let next: Int
        switch phase {
        case .ready: next = 0
        case .closed(let index), .revealed(let index): next = index + 1
        case .asking: throw .invalidState("quiz \(quizID) is still asking; close the question first")
        case .ended: throw .invalidState("quiz \(quizID) has ended")
        }
        guard next < definition.questions.count else { throw .invalidState("quiz \(quizID) has no more questions") }
        phase = .asking(index: next)
        shownAt = now
        answers = [:]
        answerTally = Tally(optionCount: definition.questions[next].options.count)
        return next
    }

    /// The response time of an answer arriving at `now`: measured from when the viewer says they saw the question
    /// (`shownAt`, in server time), clamped to `[question shown, question shown + maxDisplayLatency]` so a viewer can
    /// claim at most the latency the server can verify. Without a claim, server time is used.
    public func responseTime(claimedShownAt claim: Timestamp?, maxDisplayLatency: Duration, at now: Timestamp) -> Duration? {
        guard let shownAt else { return nil }
        let latest = shownAt + max(maxDisplayLatency, .zero)
        let effective = min(max(claim ?? shownAt, shownAt), latest)
        return max(effective.duration(to: now), .zero)
    }

    /// Accepts and scores an answer to question `index` given `responseTime` (from `responseTime(…)`).
    public mutating func answer(question index: Int, choices: Choices, by sub: String, name: String,
                                responseTime: Duration, scoring: QuizScoring) throws(InteractionError) -> AnswerResult {
        guard case .asking(let current) = phase, current == index, let question = currentQuestion else {
            throw InteractionError(.answerClosed, "question \(index) of quiz \(quizID) is not open")
        }
        guard responseTime <= question.window else {
            throw InteractionError(.answerClosed, "your answer window for question \(index) has passed")
        }
        guard choices.count > 0 else { throw .badRequest("an answer chooses at least one option") }
        guard choices.fits(optionCount: question.options.count) else {
            throw InteractionError(.unknownOption, "question \(index) has \(question.options.count) options")
        }
        guard answers[sub] == nil else { throw InteractionError(.alreadyAnswered, "you already answered question \(index)") }
        answers[sub] = choices
        answerTally.add(choices)
        let correct = choices == question.correct
        var streak = 0
        if correct {
            let previous = streaks[sub]
            streak = previous.map { $0.lastCorrectIndex == index - 1 ? $0.length + 1 : 1 } ?? 1
            streaks[sub] = Streak(length: streak, lastCorrectIndex: index)
        } else {
            streaks[sub] = nil
        }
        let points = scoring.points(correct: correct, responseTime: responseTime, window: question.window, streak: streak)
        leaderboard.add(points, correct: correct, to: sub, name: name)
        return AnswerResult(correct: correct, points: points, streak: streak)
    }

    /// When the current question stops taking answers from anyone: its window after the latest display time allowed.
    public func closesAt(grace: Duration) -> Timestamp? {
        guard case .asking = phase, let shownAt, let question = currentQuestion else { return nil }
        return shownAt + question.window + max(grace, .zero)
    }

    /// Stops taking answers to the current question.
    public mutating func closeQuestion(at now: Timestamp) throws(InteractionError) {
        guard case .asking(let index) = phase else { throw .invalidState("quiz \(quizID) is not asking a question") }
        phase = .closed(index: index)
    }

    /// Makes the current question's correct answer public (closing it first if it is still open).
    public mutating func reveal(at now: Timestamp) throws(InteractionError) {
        switch phase {
        case .asking(let index), .closed(let index): phase = .revealed(index: index)
        case .ready, .revealed, .ended: throw .invalidState("quiz \(quizID) has no question to reveal")
        }
    }

    /// Ends the quiz; the leaderboard stays.
    public mutating func end(at now: Timestamp) throws(InteractionError) {
        guard phase != .ended else { throw .invalidState("quiz \(quizID) has already ended") }
        phase = .ended
    }
}
