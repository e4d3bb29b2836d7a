/// Who sponsors a poll or a quiz: shown on its card as "Sponsored by NAME" with the logo, linking to `link`.
public struct Sponsor: Sendable, Hashable, Codable {
    public var name: String
    public var logoURL: String?
    public var link: String

    public init(name: String, logoURL: String? = nil, link: String) {
        self.name = name
        self.logoURL = logoURL
        self.link = link
    }

    func validate() throws(InteractionError) {
        guard !name.isBlank, name.count <= 80 else { throw .badRequest("the sponsor's name must be 1 to 80 characters") }
        guard OfferCard.isWebURL(link), logoURL.map(OfferCard.isWebURL) ?? true else {
            throw .badRequest("the sponsor's link and logoURL must be http(s) URLs")
        }
    }
}
