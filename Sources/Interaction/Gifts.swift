/// The gift catalogue of a room and its top-supporters board (total value per sender).
public struct Gifts: Sendable, Hashable {
    public let catalogue: [String: GiftItem]
    public let catalogueOrder: [GiftItem]
    public let template: String
    public internal(set) var totals: [String: Supporter] = [:]

    public init(catalogue: [GiftItem], template: String) {
        var items: [String: GiftItem] = [:]
        var order: [GiftItem] = []
        for item in catalogue where items[item.giftID] == nil {
            items[item.giftID] = item
            order.append(item)
        }
        self.catalogue = items
        self.catalogueOrder = order
        self.template = template
    }

    public func item(_ giftID: String) throws(InteractionError) -> GiftItem {
        guard let item = catalogue[giftID] else { throw .notFound("gift", giftID) }
        return item
    }

    /// Adds a sent gift to the supporters board.
    public mutating func record(_ event: GiftEvent) {
        var supporter = totals[event.sub] ?? Supporter(sub: event.sub, name: event.name, total: 0, gifts: 0)
        supporter.name = event.name
        let (sum, overflow) = supporter.total.addingReportingOverflow(event.total)
        supporter.total = overflow ? .max : sum
        supporter.gifts += event.count
        totals[event.sub] = supporter
    }

    /// The biggest supporters by total value (ties: more gifts, then `sub`).
    public func topSupporters(_ limit: Int) -> [Supporter] {
        let sorted = totals.values.sorted { lhs, rhs in
            if lhs.total != rhs.total { return lhs.total > rhs.total }
            if lhs.gifts != rhs.gifts { return lhs.gifts > rhs.gifts }
            return lhs.sub < rhs.sub
        }
        return Array(sorted.prefix(max(limit, 0)))
    }
}
