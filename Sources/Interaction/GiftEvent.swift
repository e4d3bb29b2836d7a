import Foundation

/// A sent gift: persisted in `Record.giftSent` and broadcast as a `gift` message with its rendered `text`.
public struct GiftEvent: Sendable, Hashable, Codable {
    public var giftEventID: String
    public var sub: String
    public var name: String
    public var giftID: String
    public var giftName: String
    public var icon: String
    /// The value of one gift; the total is `value * count`.
    public var value: Int
    public var count: Int
    /// The templated rich message, e.g. "Ada sent 3 × Rose 🌹".
    public var text: String
    public var at: Timestamp

    public init(giftEventID: String, sub: String, name: String, giftID: String, giftName: String, icon: String,
                value: Int, count: Int, text: String, at: Timestamp) {
        self.giftEventID = giftEventID
        self.sub = sub
        self.name = name
        self.giftID = giftID
        self.giftName = giftName
        self.icon = icon
        self.value = value
        self.count = count
        self.text = text
        self.at = at
    }

    /// `value * count`, saturating.
    public var total: Int {
        let (product, overflow) = value.multipliedReportingOverflow(by: count)
        return overflow ? .max : product
    }

    /// Renders a template: `{name}` the sender, `{gift}` the gift's name and icon, `{count}` the count,
    /// `{value}` the total value. With a count above 1, `{gift}` reads "3 × Rose 🌹".
    public static func render(_ template: String, name: String, item: GiftItem, count: Int) -> String {
        let gift = count > 1 ? "\(count) × \(item.name) \(item.icon)" : "\(item.name) \(item.icon)"
        let (total, overflow) = item.value.multipliedReportingOverflow(by: count)
        return template
            .replacingOccurrences(of: "{name}", with: name)
            .replacingOccurrences(of: "{gift}", with: gift)
            .replacingOccurrences(of: "{count}", with: String(count))
            .replacingOccurrences(of: "{value}", with: String(overflow ? Int.max : total))
    }
}
