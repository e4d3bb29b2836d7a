/// What a host asked: the fixed part of a poll, as created by `poll.create` and persisted in `Record.pollCreated`.
public struct PollDefinition: Sendable, Hashable, Codable {
    /// The smallest and largest number of options a poll may have.
    public static let optionRange = 2...10

    public var pollID: String
    public var question: String
    public var options: [String]
    /// Whether a ballot may choose more than one option.
    public var multipleChoice: Bool
    /// The response window; nil means the poll stays live until the host closes it.
    public var windowSeconds: Int?
    /// Whether a viewer may change their ballot until the poll closes; otherwise a second ballot is `already_voted`.
    public var allowsChanges: Bool
    /// Who sponsors the poll, shown on its card (absent in records written before sponsors existed).
    public var sponsor: Sponsor?

    public init(pollID: String, question: String, options: [String], multipleChoice: Bool = false,
                windowSeconds: Int? = nil, allowsChanges: Bool = false, sponsor: Sponsor? = nil) {
        self.pollID = pollID
        self.question = question
        self.options = options
        self.multipleChoice = multipleChoice
        self.windowSeconds = windowSeconds
        self.allowsChanges = allowsChanges
        self.sponsor = sponsor
    }

    /// Checks the host's input: 2–10 non-empty options, a non-empty question, a positive window.
    func validate(maxTextLength: Int) throws(InteractionError) {
        guard Self.optionRange.contains(options.count) else {
            throw .badRequest("a poll has \(Self.optionRange.lowerBound) to \(Self.optionRange.upperBound) options")
        }
        guard !question.isBlank, question.count <= maxTextLength else {
            throw .badRequest("the question must be 1 to \(maxTextLength) characters")
        }
        guard options.allSatisfy({ !$0.isBlank && $0.count <= maxTextLength }) else {
            throw .badRequest("each option must be 1 to \(maxTextLength) characters")
        }
        if let windowSeconds, !(1...86_400).contains(windowSeconds) {
            throw .badRequest("windowSeconds must be 1 to 86400")
        }
        try sponsor?.validate()
    }
}

extension String {
    var isBlank: Bool { allSatisfy(\.isWhitespace) }
}
