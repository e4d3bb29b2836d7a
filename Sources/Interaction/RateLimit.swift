/// A token-bucket setting: `burst` actions at once, refilling at `perSecond`.
public struct RateLimit: Sendable, Hashable, Codable {
    public var burst: Int
    public var perSecond: Double

    public init(burst: Int, perSecond: Double) {
        self.burst = max(burst, 1)
        self.perSecond = max(perSecond, 0)
    }
}
