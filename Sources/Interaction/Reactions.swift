/// Reaction taps of one room, counted between ticks and flushed as one `reactions` message per tick
/// (never one message per tap). Only emoji in the channel's allowed set count.
public struct Reactions: Sendable, Hashable {
    public let allowed: Set<String>
    public private(set) var pending: [String: Int] = [:]

    public init(allowed: some Sequence<String>) {
        self.allowed = Set(allowed)
    }

    /// Counts one tap; throws `reaction_not_allowed` for an emoji outside the allowed set.
    public mutating func add(_ emoji: String) throws(InteractionError) {
        guard allowed.contains(emoji) else {
            throw InteractionError(.reactionNotAllowed, "this channel does not allow that reaction")
        }
        pending[emoji, default: 0] += 1
    }

    /// Merges counts gathered elsewhere (another shard or node).
    public mutating func merge(_ counts: [String: Int]) {
        for (emoji, count) in counts where allowed.contains(emoji) && count > 0 {
            pending[emoji, default: 0] += count
        }
    }

    /// The counts since the last flush, or nil if there were none; resets the counters.
    public mutating func flush() -> [String: Int]? {
        guard !pending.isEmpty else { return nil }
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }
}
