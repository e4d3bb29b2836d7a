/// Vote counts for one poll or quiz question: a counter per option plus the number of ballots.
///
/// Built for a 100,000-votes-per-second burst: `add` and `remove` are O(options) ≤ O(16) with no allocation
/// (the counter array is allocated once, when the tally is made). A tally is a commutative monoid under `merge`,
/// so a server may count in one shard per event loop and merge the shards every tick; the per-user ballot map that
/// deduplicates votes lives in `Poll`, not here.
public struct Tally: Sendable, Hashable, Codable {
    /// One counter per option, indexed like the poll's options.
    public private(set) var counts: [Int]
    /// The number of ballots counted (a multiple-choice ballot counts once here, once per chosen option in `counts`).
    public private(set) var ballots: Int

    /// An empty tally for `optionCount` options.
    public init(optionCount: Int) {
        self.counts = Array(repeating: 0, count: max(0, optionCount))
        self.ballots = 0
    }

    public init(counts: [Int], ballots: Int) {
        self.counts = counts
        self.ballots = ballots
    }

    /// Counts one ballot. Indices beyond the option count are ignored (callers validate first).
    @inline(__always)
    public mutating func add(_ choices: Choices) {
        let limit = counts.count
        choices.forEachIndex { index in
            if index < limit { counts[index] &+= 1 }
        }
        ballots &+= 1
    }

    /// Takes back one ballot counted earlier (a changed vote).
    @inline(__always)
    public mutating func remove(_ choices: Choices) {
        let limit = counts.count
        choices.forEachIndex { index in
            if index < limit { counts[index] &-= 1 }
        }
        ballots &-= 1
    }

    /// Adds another shard's counts into this one. A shorter tally is extended with zeros.
    public mutating func merge(_ other: Tally) {
        if other.counts.count > counts.count {
            counts.append(contentsOf: repeatElement(0, count: other.counts.count - counts.count))
        }
        for (index, count) in other.counts.enumerated() {
            counts[index] &+= count
        }
        ballots &+= other.ballots
    }

    /// This tally merged with `other`.
    public func merging(_ other: Tally) -> Tally {
        var result = self
        result.merge(other)
        return result
    }

    /// Resets every counter to zero, keeping the storage (for a shard that was just merged).
    public mutating func reset() {
        for index in counts.indices { counts[index] = 0 }
        ballots = 0
    }
}
