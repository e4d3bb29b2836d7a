/// Scores per player for one quiz, with competition ranking ("1224": equal scores share a rank).
///
/// Updating a score is O(1); `top(_:)` sorts (O(n log n)) and is meant for once per question, not per answer;
/// `standing(of:)` is O(n). Ties are ordered by who reached the score first, then by `sub`, so results are stable.
public struct Leaderboard: Sendable, Hashable, Codable {
    struct Entry: Sendable, Hashable, Codable {
        var name: String
        var score: Int
        var correctAnswers: Int
        /// The order in which the entry last changed score; earlier wins ties.
        var reachedAt: UInt64
    }

    private(set) var entries: [String: Entry] = [:]
    private var changes: UInt64 = 0

    public init() {}

    /// Number of players with an entry.
    public var count: Int { entries.count }

    /// Adds `points` to `sub`'s score (an entry is made on the first answer, even a wrong one).
    public mutating func add(_ points: Int, correct: Bool, to sub: String, name: String) {
        changes &+= 1
        var entry = entries[sub] ?? Entry(name: name, score: 0, correctAnswers: 0, reachedAt: changes)
        entry.name = name
        if points != 0 || entry.score == 0 { entry.reachedAt = changes }
        entry.score &+= points
        if correct { entry.correctAnswers &+= 1 }
        entries[sub] = entry
    }

    /// The score of `sub`, 0 if they never answered.
    public func score(of sub: String) -> Int { entries[sub]?.score ?? 0 }

    /// All standings, best first.
    public func ranked() -> [Standing] {
        let sorted = entries.sorted { lhs, rhs in
            if lhs.value.score != rhs.value.score { return lhs.value.score > rhs.value.score }
            if lhs.value.reachedAt != rhs.value.reachedAt { return lhs.value.reachedAt < rhs.value.reachedAt }
            return lhs.key < rhs.key
        }
        var result: [Standing] = []
        result.reserveCapacity(sorted.count)
        var rank = 0
        var previousScore: Int?
        for (position, element) in sorted.enumerated() {
            if element.value.score != previousScore {
                rank = position + 1
                previousScore = element.value.score
            }
            result.append(Standing(sub: element.key, name: element.value.name, score: element.value.score,
                                   rank: rank, correctAnswers: element.value.correctAnswers))
        }
        return result
    }

    /// The best `limit` standings.
    public func top(_ limit: Int) -> [Standing] { Array(ranked().prefix(max(limit, 0))) }

    /// The rank and score of one player; nil if they never answered.
    public func standing(of sub: String) -> Standing? {
        guard let entry = entries[sub] else { return nil }
        var better = 0
        for other in entries.values where other.score > entry.score { better += 1 }
        return Standing(sub: sub, name: entry.name, score: entry.score, rank: better + 1, correctAnswers: entry.correctAnswers)
    }
}
