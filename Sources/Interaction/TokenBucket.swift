/// A token bucket: holds up to `burst` tokens, refills at `perSecond`, and each action takes one.
///
/// Pure and clock-free: the caller passes `now`. A bucket starts full.
public struct TokenBucket: Sendable, Hashable {
    public let limit: RateLimit
    public private(set) var tokens: Double
    public private(set) var updatedAt: Timestamp

    public init(limit: RateLimit, at now: Timestamp) {
        self.limit = limit
        self.tokens = Double(limit.burst)
        self.updatedAt = now
    }

    /// Takes `cost` tokens if there are enough at `now`; returns whether it did.
    public mutating func take(_ cost: Double = 1, at now: Timestamp) -> Bool {
        refill(at: now)
        guard tokens >= cost else { return false }
        tokens -= cost
        return true
    }

    /// Whether the bucket would be full at `now` (it can then be forgotten and made anew).
    public func isFull(at now: Timestamp) -> Bool {
        var copy = self
        copy.refill(at: now)
        return copy.tokens >= Double(limit.burst)
    }

    private mutating func refill(at now: Timestamp) {
        guard now > updatedAt else { return }
        let elapsed = updatedAt.duration(to: now).inSeconds
        tokens = min(Double(limit.burst), tokens + elapsed * limit.perSecond)
        updatedAt = now
    }
}
