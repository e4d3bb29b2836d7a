import OrderedCollections

/// The Q&A board of a room: questions, one upvote per user per question, and the moderation lifecycle
/// `pending → open → answered`, with `rejected`/`archived` as exits and `pinned` as a flag on public questions.
public struct QandA: Sendable, Hashable, Codable {
    /// A staff action on a question, as persisted in `Record.questionModerated`.
    public enum Action: String, Sendable, Hashable, Codable, CaseIterable {
        case approve, reject, pin, unpin, answer, archive
    }

    public private(set) var questions: OrderedDictionary<String, Question> = [:]
    private var upvoters: [String: Set<String>] = [:]

    public init() {}

    public mutating func ask(_ question: Question) {
        questions[question.questionID] = question
    }

    /// Adds `sub`'s vote; throws `not_found` for a question viewers cannot see and `already_voted` for a second vote.
    @discardableResult
    public mutating func upvote(_ questionID: String, by sub: String) throws(InteractionError) -> Int {
        guard let index = questions.index(forKey: questionID), questions.values[index].status.isPublic else {
            throw .notFound("question", questionID)
        }
        guard upvoters[questionID, default: []].insert(sub).inserted else {
            throw InteractionError(.alreadyVoted, "you already upvoted question \(questionID)")
        }
        questions.values[index].votes += 1
        return questions.values[index].votes
    }

    /// Applies a staff action; throws `invalid_state` where the lifecycle does not allow it.
    @discardableResult
    public mutating func moderate(_ questionID: String, _ action: Action) throws(InteractionError) -> Question {
        guard let index = questions.index(forKey: questionID) else { throw .notFound("question", questionID) }
        var question = questions.values[index]
        switch (action, question.status) {
        case (.approve, .pending): question.status = .open
        case (.reject, .pending), (.reject, .open): question.status = .rejected; question.pinned = false
        case (.pin, .open), (.pin, .answered): question.pinned = true
        case (.unpin, .open), (.unpin, .answered): question.pinned = false
        case (.answer, .open): question.status = .answered
        case (.archive, .pending), (.archive, .open), (.archive, .answered): question.status = .archived; question.pinned = false
        default:
            throw .invalidState("cannot \(action.rawValue) a question that is \(question.status.rawValue)")
        }
        questions.values[index] = question
        return question
    }

    /// Every question in any status, in the order asked.
    public var all: [Question] { Array(questions.values) }

    public func question(_ questionID: String) -> Question? { questions[questionID] }

    /// Questions in display order: public ones, plus pending ones when `includePending` (for staff).
    public func ordered(includePending: Bool = false, limit: Int = .max) -> [Question] {
        let visible = questions.values.filter { $0.status.isPublic || (includePending && $0.status == .pending) }
        return Array(visible.sorted(by: Question.displayOrder).prefix(max(limit, 0)))
    }
}
