/// A product offer card shown by the host. The price is a decimal string in the currency's major unit
/// ("19.99") so no floating point is involved; `currency` is an ISO 4217 code. `stock`, when set, is how many are left
/// (0 shows "sold out"; the host changes it live by showing the card again); `endsAt`, when set, is when the offer ends
/// (the card counts down to it).
public struct OfferCard: Sendable, Hashable, Codable {
    public var offerID: String
    public var title: String
    public var price: String
    public var currency: String
    public var imageURL: String?
    public var link: String
    public var stock: Int?
    public var endsAt: Timestamp?

    /// The most a card's `stock` may say.
    public static let maxStock = 1_000_000_000

    public init(offerID: String, title: String, price: String, currency: String, imageURL: String? = nil, link: String,
                stock: Int? = nil, endsAt: Timestamp? = nil) {
        self.offerID = offerID
        self.title = title
        self.price = price
        self.currency = currency
        self.imageURL = imageURL
        self.link = link
        self.stock = stock
        self.endsAt = endsAt
    }

    /// Checks every field; `now` bounds `endsAt` (after now, at most 30 days ahead).
    func validate(at now: Timestamp) throws(InteractionError) {
        guard !offerID.isBlank, offerID.count <= 64 else { throw .badRequest("offerID must be 1 to 64 characters") }
        guard !title.isBlank, title.count <= 200 else { throw .badRequest("title must be 1 to 200 characters") }
        guard Self.isDecimal(price) else { throw .badRequest("price must be a decimal string like \"19.99\"") }
        guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isLetter && $0.isUppercase }) else {
            throw .badRequest("currency must be an ISO 4217 code like \"EUR\"")
        }
        guard Self.isWebURL(link), imageURL.map(Self.isWebURL) ?? true else {
            throw .badRequest("link and imageURL must be http(s) URLs")
        }
        if let stock, !(0...Self.maxStock).contains(stock) {
            throw .badRequest("stock must be 0 to \(Self.maxStock)")
        }
        if let endsAt, endsAt <= now || endsAt > now.advanced(by: .seconds(30 * 24 * 3600)) {
            throw .badRequest("endsAt must be later than now and at most 30 days ahead")
        }
    }

    static func isDecimal(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = parts.first, !whole.isEmpty, whole.count <= 12,
              whole.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        if parts.count == 2 {
            let fraction = parts[1]
            return (1...4).contains(fraction.count) && fraction.allSatisfy { $0.isASCII && $0.isNumber }
        }
        return true
    }

    static func isWebURL(_ text: String) -> Bool {
        (text.hasPrefix("https://") || text.hasPrefix("http://")) && text.count <= 2048 && !text.contains(where: \.isWhitespace)
    }
}
