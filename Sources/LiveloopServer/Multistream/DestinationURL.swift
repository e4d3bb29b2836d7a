import Foundation

/// An ingest URL of another platform, as a host gives it: `rtmp://host[:port]/app` or `rtmps://host[:port]/app`
/// (YouTube's `rtmp://a.rtmp.youtube.com/live2`, Facebook's `rtmps://live-api-s.facebook.com:443/rtmp/`). The stream
/// key is separate and not part of it. The port defaults to 1935 (rtmp) or 443 (rtmps); the application is the path
/// without its outer slashes and must not be empty.
///
/// Whoever may add a destination must not be able to make the server connect into its own network (SSRF), so, unless
/// private addresses are allowed, a literal address is judged here (``IPAddress/isInternal``, the rule webhooks
/// follow) and a name is resolved and judged before every connection (``Multistream``'s relays connect to the very
/// address they judged).
public struct DestinationURL: Sendable, Equatable {
    public enum Scheme: String, Sendable {
        case rtmp, rtmps
    }

    public var scheme: Scheme
    public var host: String
    public var port: Int
    public var app: String

    public static let maxLength = 1024

    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case malformed
        case scheme
        case tooLong
        case credentials
        case queryOrFragment
        case port
        case missingApp
        case privateAddress(String)

        public var description: String {
            switch self {
            case .malformed: "url must be rtmp://host[:port]/app or rtmps://host[:port]/app"
            case .scheme: "url must use rtmp or rtmps"
            case .tooLong: "url must be at most \(DestinationURL.maxLength) bytes"
            case .credentials: "url must not carry a user name or password"
            case .queryOrFragment: "url must not have a query or fragment; give the stream key as key"
            case .port: "url port must be 1–65535"
            case .missingApp: "url must name the application after the host (rtmp://host/app)"
            case let .privateAddress(host):
                "url host \(host) is a loopback, private or otherwise internal address, which this server does not push to"
            }
        }
    }

    /// Parses and checks `text`; `allowPrivateAddresses` false refuses literal internal addresses.
    public init(_ text: String, allowPrivateAddresses: Bool) throws(Refusal) {
        guard text.utf8.count <= Self.maxLength else { throw .tooLong }
        guard text.unicodeScalars.allSatisfy({ (0x21...0x7e).contains($0.value) }) else { throw .malformed }
        guard let components = URLComponents(string: text), let schemeText = components.scheme?.lowercased() else { throw .malformed }
        guard let scheme = Scheme(rawValue: schemeText) else { throw .scheme }
        guard components.user == nil, components.password == nil else { throw .credentials }
        guard components.query == nil, components.fragment == nil else { throw .queryOrFragment }
        guard var host = components.host?.lowercased(), !host.isEmpty else { throw .malformed }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port: Int
        if let given = components.port {
            guard (1...65535).contains(given) else { throw .port }
            port = given
        } else {
            // URLComponents returns nil for an empty or out-of-range port too; tell those apart from none.
            guard !text.dropFirst(schemeText.count + 3).prefix(while: { $0 != "/" }).hasSuffix(":") else { throw .port }
            port = scheme == .rtmp ? 1935 : 443
        }
        let app = components.percentEncodedPath.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard !app.isEmpty else { throw .missingApp }
        if !allowPrivateAddresses, let address = IPAddress(host), address.isInternal { throw .privateAddress(host) }
        self.scheme = scheme
        self.host = host
        self.port = port
        self.app = app
    }

    /// The URL of the application as RTMP's `connect` names it (`tcUrl`).
    public var tcURL: String {
        "\(scheme.rawValue)://\(host.contains(":") ? "[\(host)]" : host):\(port)/\(app)"
    }

    /// Whether the host is written as an address (no name to resolve, and no name to check a certificate against).
    public var hostIsAddress: Bool { IPAddress(host) != nil }
}

/// The rules for the other fields of a destination.
enum DestinationFields {
    static let maxKeyBytes = 512
    static let maxNameCharacters = 64

    /// A stream key: 1–512 printable ASCII characters without spaces (platforms' keys carry `?` and `&` at times).
    static func checkKey(_ key: String) throws(APIError) {
        guard (1...maxKeyBytes).contains(key.utf8.count), key.unicodeScalars.allSatisfy({ (0x21...0x7e).contains($0.value) }) else {
            throw .badRequest("key must be 1–\(maxKeyBytes) printable ASCII characters without spaces")
        }
    }

    /// A label: 1–64 characters, no control characters, trimmed.
    static func checkName(_ name: String) throws(APIError) -> String {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard (1...maxNameCharacters).contains(trimmed.count),
              !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format })
        else {
            throw .badRequest("name must be 1–\(maxNameCharacters) characters without control characters")
        }
        return trimmed
    }
}
