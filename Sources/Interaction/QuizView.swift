/// A quiz as a client sees it (`quiz` messages and snapshots): its phase and the current question, never the
/// correct answer before the question is revealed.
public struct QuizView: Sendable, Hashable, Codable {
    /// The current question without its answer.
    public struct QuestionView: Sendable, Hashable, Codable {
        public var index: Int
        public var prompt: String
        public var options: [String]
        public var windowSeconds: Int
        /// Server time the question went out; the viewer's own window starts when their playhead shows it.
        public var shownAt: Timestamp?
        /// Present only once revealed.
        public var correct: Choices?
        /// Answer counts; present only once revealed.
        public var counts: Tally?
    }

    /// `ready`, `asking`, `closed`, `revealed` or `ended`.
    public enum Phase: String, Sendable, Hashable, Codable {
        case ready, asking, closed, revealed, ended
    }

    public var quizID: String
    public var title: String
    public var questionCount: Int
    public var phase: Phase
    public var question: QuestionView?
    public var sponsor: Sponsor?

    public init(_ quiz: Quiz) {
        quizID = quiz.quizID
        title = quiz.definition.title
        sponsor = quiz.definition.sponsor
        questionCount = quiz.definition.questions.count
        let revealed: Bool
        switch quiz.phase {
        case .ready: phase = .ready; revealed = false
        case .asking: phase = .asking; revealed = false
        case .closed: phase = .closed; revealed = false
        case .revealed: phase = .revealed; revealed = true
        case .ended: phase = .ended; revealed = false
        }
        if let index = quiz.currentIndex, let current = quiz.currentQuestion {
            question = QuestionView(index: index, prompt: current.prompt, options: current.options,
                                    windowSeconds: current.windowSeconds, shownAt: quiz.shownAt,
                                    correct: revealed ? current.correct : nil,
                                    counts: revealed ? quiz.answerTally : nil)
        } else {
            question = nil
        }
    }
}
