/// One token bucket per user for one kind of action; a nil limit switches limiting off.
public struct RateLimiter: Sendable, Hashable {
    public let limit: RateLimit?
    private var buckets: [String: TokenBucket] = [:]

    public init(_ limit: RateLimit?) {
        self.limit = limit
    }

    /// Takes a token for `key` (a `sub`, or a connection id for per-connection limits); throws `rate_limited` if empty.
    public mutating func take(for key: String, at now: Timestamp) throws(InteractionError) {
        guard let limit else { return }
        var allowed = true
        if let index = buckets.index(forKey: key) {
            allowed = buckets.values[index].take(at: now)
        } else {
            var bucket = TokenBucket(limit: limit, at: now)
            allowed = bucket.take(at: now)
            buckets[key] = bucket
        }
        if !allowed { throw InteractionError(.rateLimited, "too many requests; slow down") }
    }

    /// Number of users with a bucket.
    public var trackedCount: Int { buckets.count }

    /// Drops buckets that have refilled completely (they behave exactly like new ones).
    public mutating func prune(at now: Timestamp) {
        buckets = buckets.filter { !$0.value.isFull(at: now) }
    }
}
