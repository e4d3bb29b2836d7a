import DequeModule

/// The bounded history of replayable broadcasts a reconnecting client can catch up from.
///
/// Invariant: every replayable broadcast with `seq > evictedThrough` is in `entries`, so a client whose last seen seq
/// is at least `evictedThrough` can be resumed exactly; an older one (or one from a previous server instance) cannot.
public struct BroadcastHistory: Sendable, Hashable {
    public private(set) var entries: Deque<RoomBroadcast> = []
    public let limit: Int
    /// The highest seq that may have been lost (evicted, or issued before this history began).
    public private(set) var evictedThrough: UInt64

    public init(limit: Int, startingAfter seq: UInt64) {
        self.limit = max(limit, 1)
        self.evictedThrough = seq
    }

    public mutating func append(_ broadcast: RoomBroadcast) {
        entries.append(broadcast)
        while entries.count > limit, let first = entries.popFirst() {
            evictedThrough = first.seq
        }
    }

    /// The replayable broadcasts after `seq` that `identity` may see, or nil if some may be missing.
    public func messages(after seq: UInt64, currentSeq: UInt64, visibleTo identity: Identity) -> [RoomBroadcast]? {
        guard seq >= evictedThrough, seq <= currentSeq else { return nil }
        var result: [RoomBroadcast] = []
        for broadcast in entries.reversed() {
            if broadcast.seq <= seq { break }
            if broadcast.audience.includes(identity) { result.append(broadcast) }
        }
        return result.reversed()
    }
}
