/// An entry of a channel's gift catalogue. `value` is in the channel's smallest unit (e.g. coins or cents);
/// a free "like" is a gift of value 0.
public struct GiftItem: Sendable, Hashable, Codable {
    public var giftID: String
    public var name: String
    public var icon: String
    public var value: Int

    public init(giftID: String, name: String, icon: String, value: Int) {
        self.giftID = giftID
        self.name = name
        self.icon = icon
        self.value = value
    }

    /// A small default catalogue.
    public static let defaults: [GiftItem] = [
        GiftItem(giftID: "like", name: "Like", icon: "👍", value: 0),
        GiftItem(giftID: "rose", name: "Rose", icon: "🌹", value: 1),
        GiftItem(giftID: "star", name: "Star", icon: "⭐", value: 10),
        GiftItem(giftID: "rocket", name: "Rocket", icon: "🚀", value: 100),
    ]
}
