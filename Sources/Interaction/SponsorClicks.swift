import OrderedCollections

/// The clicks on the sponsors of a room's polls and quizzes: total and unique users, per sponsored interaction, in the
/// order first clicked. Which polls and quizzes have a sponsor is in their definitions; this holds only the counts.
public struct SponsorClicks: Sendable, Hashable, Codable {
    /// The clicks on one poll's or quiz's sponsor.
    public struct Entry: Sendable, Hashable, Codable {
        public var clicks: Int
        public var clickers: Set<String>
    }

    public private(set) var entries: OrderedDictionary<SponsoredInteraction, Entry> = [:]

    public init() {}

    /// Counts a click by `sub`; returns whether it was this user's first on this sponsor.
    @discardableResult
    public mutating func click(_ interaction: SponsoredInteraction, by sub: String) -> Bool {
        guard let index = entries.index(forKey: interaction) else {
            entries[interaction] = Entry(clicks: 1, clickers: [sub])
            return true
        }
        entries.values[index].clicks += 1
        return entries.values[index].clickers.insert(sub).inserted
    }

    /// The clicks on this interaction's sponsor (nil before the first).
    public func entry(_ interaction: SponsoredInteraction) -> Entry? { entries[interaction] }

    /// One sponsored poll's or quiz's clicks as staff read them: the `sponsor.clicks` message, the staff snapshot's
    /// `sponsorClicks` and `GET …/sponsors`. On the wire the interaction is its id field (`pollID` or `quizID`).
    public struct ClickCount: Sendable, Hashable, Codable {
        public var interaction: SponsoredInteraction
        /// The sponsor's name.
        public var sponsor: String
        public var clicks: Int
        public var uniqueClicks: Int

        public init(interaction: SponsoredInteraction, sponsor: String, clicks: Int, uniqueClicks: Int) {
            self.interaction = interaction
            self.sponsor = sponsor
            self.clicks = clicks
            self.uniqueClicks = uniqueClicks
        }

        enum CodingKeys: String, CodingKey {
            case sponsor, clicks, uniqueClicks
        }

        public init(from decoder: any Decoder) throws {
            interaction = try SponsoredInteraction(from: decoder)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            sponsor = try container.decode(String.self, forKey: .sponsor)
            clicks = try container.decode(Int.self, forKey: .clicks)
            uniqueClicks = try container.decode(Int.self, forKey: .uniqueClicks)
        }

        public func encode(to encoder: any Encoder) throws {
            try interaction.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(sponsor, forKey: .sponsor)
            try container.encode(clicks, forKey: .clicks)
            try container.encode(uniqueClicks, forKey: .uniqueClicks)
        }
    }

    /// The count of `interaction`, sponsored by `sponsor` (zeros before its first click).
    public func clickCount(_ interaction: SponsoredInteraction, sponsor: Sponsor) -> ClickCount {
        let entry = entries[interaction]
        return ClickCount(interaction: interaction, sponsor: sponsor.name, clicks: entry?.clicks ?? 0,
                          uniqueClicks: entry?.clickers.count ?? 0)
    }
}
