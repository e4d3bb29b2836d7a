import Foundation

/// Who may watch a channel and how viewers join its room (`GET/PUT /api/v1/channels/CHANNEL/audience`).
///
/// - `join`: `open` — a viewer picks a display name on the page and the server mints a short-lived viewer token
///   (`POST …/join`); `signed` — the customer's site signs its users in with the channel's signing key and hands the
///   page the token (embed API `setToken`, or `#token=` in the page address); `guests` — nobody joins: viewers watch
///   and react as guests. Tokens minted by the operator (`POST …/tokens`) work in every mode.
/// - `private`: the video (LL-HLS and WebSocket fMP4) plays only with a playback token signed with the channel's key.
/// - `allowedOrigins`: the host pages whose `postMessage` the embed answers (empty: the embed plays anywhere, but its
///   JavaScript API is off).
/// - `branding`: colours, a logo and a font the watch page and the embed apply as CSS custom properties.
/// - `staffNames`: names only staff use (the host's, the moderators'); open-join names that imitate them are refused.
public struct ChannelAudience: Codable, Sendable, Equatable {
    public enum JoinMode: String, Codable, Sendable, CaseIterable {
        case open, signed, guests
    }

    public struct Branding: Codable, Sendable, Equatable {
        public var accent: String?
        public var background: String?
        public var surface: String?
        public var text: String?
        /// An absolute `https:` URL (or a path on this server) of the logo image.
        public var logoURL: String?
        /// A CSS font-family list, e.g. `"Inter", system-ui, sans-serif` (fonts the viewer's system has; nothing is fetched).
        public var font: String?

        public init(accent: String? = nil, background: String? = nil, surface: String? = nil, text: String? = nil,
                    logoURL: String? = nil, font: String? = nil) {
            self.accent = accent
            self.background = background
            self.surface = surface
            self.text = text
            self.logoURL = logoURL
            self.font = font
        }
    }

    public var join: JoinMode
    public var `private`: Bool
    public var allowedOrigins: [String]
    public var branding: Branding
    public var staffNames: [String]

    public init(join: JoinMode = .open, private: Bool = false, allowedOrigins: [String] = [], branding: Branding = .init(),
                staffNames: [String] = []) {
        self.join = join
        self.private = `private`
        self.allowedOrigins = allowedOrigins
        self.branding = branding
        self.staffNames = staffNames
    }

    enum CodingKeys: String, CodingKey { case join, `private`, allowedOrigins, branding, staffNames }

    /// Fields left out keep the defaults (a PUT merges over the current settings before it decodes; see `AudienceAPI`).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        join = try c.decodeIfPresent(JoinMode.self, forKey: .join) ?? .open
        `private` = try c.decodeIfPresent(Bool.self, forKey: .private) ?? false
        allowedOrigins = try c.decodeIfPresent([String].self, forKey: .allowedOrigins) ?? []
        branding = try c.decodeIfPresent(Branding.self, forKey: .branding) ?? .init()
        staffNames = try c.decodeIfPresent([String].self, forKey: .staffNames) ?? []
    }

    /// Refuses what no page should be given: origins that are not `scheme://host[:port]`, colours that are not CSS
    /// hex colours, a logo that is not https (or a path here), a font list that could break out of its declaration.
    public func validate() throws(APIError) {
        guard allowedOrigins.count <= 20 else { throw .badRequest("allowedOrigins: at most 20") }
        for origin in allowedOrigins where !Self.isOrigin(origin) {
            throw .badRequest("allowedOrigins: \"\(origin.prefix(80))\" is not an origin like https://shop.example (scheme, host, optional port; no path)")
        }
        for (field, value) in [("accent", branding.accent), ("background", branding.background), ("surface", branding.surface),
                               ("text", branding.text)] {
            if let value, !Self.isHexColour(value) { throw .badRequest("branding.\(field) must be a hex colour like #ff3366") }
        }
        if let logo = branding.logoURL, !Self.isLogoURL(logo) {
            throw .badRequest("branding.logoURL must be an https:// URL or a path on this server, at most 512 characters")
        }
        if let font = branding.font, font.count > 200 || !font.unicodeScalars.allSatisfy(Self.fontScalar) {
            throw .badRequest("branding.font must be a font-family list of at most 200 letters, digits, spaces, quotes, commas and dashes")
        }
        guard staffNames.count <= 50, staffNames.allSatisfy({ (1...64).contains($0.count) }) else {
            throw .badRequest("staffNames: at most 50 names of 1–64 characters")
        }
    }

    static func isOrigin(_ text: String) -> Bool {
        guard text.count <= 200, let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty, url.path.isEmpty, url.query == nil, url.fragment == nil, url.user == nil else { return false }
        return text == text.lowercased() && !text.hasSuffix("/")
    }

    static func isHexColour(_ text: String) -> Bool {
        guard text.first == "#", [4, 5, 7, 9].contains(text.count) else { return false }
        return text.dropFirst().allSatisfy(\.isHexDigit)
    }

    static func isLogoURL(_ text: String) -> Bool {
        guard text.count <= 512, !text.contains(where: { $0 == "\"" || $0 == "'" || $0 == "(" || $0 == ")" || $0 == "\\" || $0.isWhitespace }) else { return false }
        if text.hasPrefix("/") && !text.hasPrefix("//") { return true }
        guard let url = URL(string: text) else { return false }
        return url.scheme == "https" && url.host != nil
    }

    static func fontScalar(_ scalar: Unicode.Scalar) -> Bool {
        CharacterSet.alphanumerics.contains(scalar) || " ,-_\"'".unicodeScalars.contains(scalar)
    }

    /// Whether a host page at `origin` may talk to the embed.
    public func allows(origin: String) -> Bool { allowedOrigins.contains(origin.lowercased()) }
}
