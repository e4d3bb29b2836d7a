/// A row of the top-supporters board: total gift value and number of gifts sent by one user.
public struct Supporter: Sendable, Hashable, Codable {
    public var sub: String
    public var name: String
    public var total: Int
    public var gifts: Int

    public init(sub: String, name: String, total: Int, gifts: Int) {
        self.sub = sub
        self.name = name
        self.total = total
        self.gifts = gifts
    }
}
