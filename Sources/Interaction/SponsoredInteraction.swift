/// A poll or a quiz that may carry a `Sponsor`: what a sponsor click names.
///
/// On the wire (and in records) it is the interaction's own id field, `{"pollID":"p1"}` or `{"quizID":"z2"}`, so it
/// sits flat beside a message's other fields; exactly one of the two must be present.
public enum SponsoredInteraction: Sendable, Hashable, Codable, CustomStringConvertible {
    case poll(String)
    case quiz(String)

    /// `poll` or `quiz`: the kind as the analytics report and its CSV name it.
    public enum Kind: String, Sendable, Hashable, Codable {
        case poll, quiz
    }

    public var kind: Kind {
        switch self {
        case .poll: .poll
        case .quiz: .quiz
        }
    }

    /// The poll's or quiz's id.
    public var id: String {
        switch self {
        case .poll(let id), .quiz(let id): id
        }
    }

    /// "poll p1", "quiz z2": for messages and a stable order.
    public var description: String { "\(kind.rawValue) \(id)" }

    enum CodingKeys: String, CodingKey {
        case pollID, quizID
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let pollID = try container.decodeIfPresent(String.self, forKey: .pollID)
        let quizID = try container.decodeIfPresent(String.self, forKey: .quizID)
        switch (pollID, quizID) {
        case (let pollID?, nil): self = .poll(pollID)
        case (nil, let quizID?): self = .quiz(quizID)
        case (nil, nil):
            throw DecodingError.keyNotFound(CodingKeys.pollID, .init(codingPath: decoder.codingPath,
                                                                     debugDescription: "a pollID or a quizID is required"))
        case (.some, .some):
            throw DecodingError.dataCorruptedError(forKey: .quizID, in: container,
                                                   debugDescription: "a pollID or a quizID, not both")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .poll(let id): try container.encode(id, forKey: .pollID)
        case .quiz(let id): try container.encode(id, forKey: .quizID)
        }
    }
}
