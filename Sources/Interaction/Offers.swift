import OrderedCollections

/// The offer cards of a room: which are shown, and their clicks (total, and unique users).
public struct Offers: Sendable, Hashable, Codable {
    /// One card with its visibility and click counts.
    public struct Entry: Sendable, Hashable, Codable {
        public var card: OfferCard
        public var visible: Bool
        public var clicks: Int
        public var clickers: Set<String>
    }

    public private(set) var entries: OrderedDictionary<String, Entry> = [:]

    public init() {}

    /// Shows a card (or updates and re-shows one with the same id; its clicks are kept).
    public mutating func show(_ card: OfferCard) {
        if let index = entries.index(forKey: card.offerID) {
            entries.values[index].card = card
            entries.values[index].visible = true
        } else {
            entries[card.offerID] = Entry(card: card, visible: true, clicks: 0, clickers: [])
        }
    }

    public mutating func hide(_ offerID: String) throws(InteractionError) {
        guard let index = entries.index(forKey: offerID), entries.values[index].visible else {
            throw .notFound("visible offer", offerID)
        }
        entries.values[index].visible = false
    }

    /// Counts a click; returns whether it was this user's first on this offer.
    @discardableResult
    public mutating func click(_ offerID: String, by sub: String) throws(InteractionError) -> Bool {
        guard let index = entries.index(forKey: offerID), entries.values[index].visible else {
            throw .notFound("visible offer", offerID)
        }
        entries.values[index].clicks += 1
        return entries.values[index].clickers.insert(sub).inserted
    }

    /// The card with this id, shown or hidden, with its clicks.
    public func entry(_ offerID: String) -> Entry? { entries[offerID] }

    public var visibleCards: [OfferCard] { entries.values.filter(\.visible).map(\.card) }

    /// One offer's clicks as the host reads them (`GET …/offers`).
    public struct ClickCount: Sendable, Hashable, Codable {
        public var offerID: String
        public var title: String
        public var visible: Bool
        public var clicks: Int
        public var uniqueClicks: Int
    }

    /// Every offer the room has shown, in the order first shown, with its clicks (total and distinct users).
    public var clickCounts: [ClickCount] {
        entries.values.map {
            ClickCount(offerID: $0.card.offerID, title: $0.card.title, visible: $0.visible, clicks: $0.clicks,
                       uniqueClicks: $0.clickers.count)
        }
    }
}
