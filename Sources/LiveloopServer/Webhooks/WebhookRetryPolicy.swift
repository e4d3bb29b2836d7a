/// When a failed delivery is tried again: exponential backoff from `base` (doubling per attempt, at most `cap`), with
/// ±`jitter` of each delay chosen at random so receivers that come back are not hit by every queued delivery at
/// once, and at most `maxAttempts` attempts in all; then the delivery is marked failed. The defaults (30 s doubling,
/// 8 attempts) spread the attempts over about an hour.
public struct WebhookRetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var base: Duration
    public var cap: Duration
    /// The fraction of each delay added or taken away at random (0.2: ±20 %).
    public var jitter: Double

    public init(maxAttempts: Int = 8, base: Duration = .seconds(30), cap: Duration = .seconds(3600), jitter: Double = 0.2) {
        self.maxAttempts = maxAttempts
        self.base = base
        self.cap = cap
        self.jitter = jitter
    }

    /// The delay before the next attempt after `attempts` failed ones (1 after the first failure), or nil when the
    /// delivery has had all its attempts. `random` is a number in 0...1 (0.5: no jitter), passed in for tests.
    public func delay(afterFailedAttempts attempts: Int, random: Double) -> Duration? {
        guard attempts >= 1, attempts < maxAttempts else { return nil }
        let exponent = min(attempts - 1, 40)
        let nominal = min(base.asSeconds * Double(1 << exponent), cap.asSeconds)
        let factor = 1 + jitter * (2 * min(max(random, 0), 1) - 1)
        return .milliseconds(Int64((nominal * factor * 1000).rounded()))
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var asSeconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
