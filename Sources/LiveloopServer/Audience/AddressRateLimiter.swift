import Foundation
import Interaction
import Synchronization

/// A token bucket per client address (joins: 5 at once, then one every 6 s), in a table of bounded size: full buckets
/// are swept out when it fills, and if every entry is still busy the newcomer shares one overflow bucket, so a flood
/// from many addresses is limited too and costs no more memory.
final class AddressRateLimiter: Sendable {
    let limit: RateLimit
    let capacity: Int
    private static let overflow = "\u{0}overflow"
    private let buckets = Mutex<[String: TokenBucket]>([:])

    init(limit: RateLimit = RateLimit(burst: 5, perSecond: 1.0 / 6), capacity: Int = 10_000) {
        self.limit = limit
        self.capacity = capacity
    }

    /// Takes one token for `address` at `now`; false when it has none left.
    func admit(_ address: String, at now: Date = Date()) -> Bool {
        let stamp = Timestamp(now)
        return buckets.withLock { table in
            var key = address
            if table[key] == nil, table.count >= capacity {
                table = table.filter { !$0.value.isFull(at: stamp) }
                if table.count >= capacity { key = Self.overflow }
            }
            var bucket = table[key] ?? TokenBucket(limit: limit, at: stamp)
            let allowed = bucket.take(at: stamp)
            table[key] = bucket
            return allowed
        }
    }
}
