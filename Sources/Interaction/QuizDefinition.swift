/// A quiz as the host wrote it: a sequence of questions, each with options, the correct answer(s) and a window.
/// Persisted in `Record.quizCreated`; the correct answers never leave the server before a question is revealed.
public struct QuizDefinition: Sendable, Hashable, Codable {
    /// One question of a quiz.
    public struct Question: Sendable, Hashable, Codable {
        public var prompt: String
        public var options: [String]
        /// The option indices that make a correct answer; an answer is correct when it chooses exactly these.
        public var correct: Choices
        /// How long each viewer has to answer, from when they saw the question.
        public var windowSeconds: Int

        public init(prompt: String, options: [String], correct: Choices, windowSeconds: Int) {
            self.prompt = prompt
            self.options = options
            self.correct = correct
            self.windowSeconds = windowSeconds
        }

        /// The answer window as a `Duration`.
        public var window: Duration { .seconds(windowSeconds) }
    }

    public var quizID: String
    public var title: String
    public var questions: [Question]
    /// Who sponsors the quiz, shown on its card (absent in records written before quizzes had sponsors).
    public var sponsor: Sponsor?

    public init(quizID: String, title: String, questions: [Question], sponsor: Sponsor? = nil) {
        self.quizID = quizID
        self.title = title
        self.questions = questions
        self.sponsor = sponsor
    }

    func validate(maxTextLength: Int) throws(InteractionError) {
        guard !title.isBlank, title.count <= maxTextLength else { throw .badRequest("the title must be 1 to \(maxTextLength) characters") }
        guard (1...100).contains(questions.count) else { throw .badRequest("a quiz has 1 to 100 questions") }
        for (number, question) in questions.enumerated() {
            guard PollDefinition.optionRange.contains(question.options.count) else {
                throw .badRequest("question \(number) must have 2 to 10 options")
            }
            guard !question.prompt.isBlank, question.prompt.count <= maxTextLength,
                  question.options.allSatisfy({ !$0.isBlank && $0.count <= maxTextLength }) else {
                throw .badRequest("question \(number) has an empty or overlong text")
            }
            guard question.correct.count > 0, question.correct.fits(optionCount: question.options.count) else {
                throw .badRequest("question \(number) needs correct answers among its options")
            }
            guard (1...3_600).contains(question.windowSeconds) else {
                throw .badRequest("question \(number) window must be 1 to 3600 seconds")
            }
        }
        try sponsor?.validate()
    }
}
