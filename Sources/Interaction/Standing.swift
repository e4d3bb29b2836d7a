/// A player's place on a quiz leaderboard. Ranks are competition ranks: equal scores share a rank ("1224").
public struct Standing: Sendable, Hashable, Codable {
    public var sub: String
    public var name: String
    public var score: Int
    public var rank: Int
    public var correctAnswers: Int

    public init(sub: String, name: String, score: Int, rank: Int, correctAnswers: Int) {
        self.sub = sub
        self.name = name
        self.score = score
        self.rank = rank
        self.correctAnswers = correctAnswers
    }
}
