import Foundation

/// Which URLs the server will send webhooks to. A URL is `http` or `https`, at most `maxLength` bytes, with a host and
/// no user name or password in it. Unless private addresses are allowed (`--webhook-allow-private`, off by default),
/// the host must not be, or resolve to, an address of this machine or its private networks (loopback, RFC 1918,
/// link-local, carrier-grade NAT, unique-local IPv6, unspecified, multicast): whoever holds an API key must not be able
/// to make the server probe its own network (SSRF). Literal addresses are judged when the webhook is created; names
/// are resolved and judged before every attempt (a name that changes to a private address between that check and
/// the connection is the residual risk; an egress proxy closes it).
public struct WebhookURLPolicy: Sendable {
    public var allowPrivateAddresses: Bool
    public static let maxLength = 2048

    public init(allowPrivateAddresses: Bool) {
        self.allowPrivateAddresses = allowPrivateAddresses
    }

    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case malformed
        case scheme
        case credentials
        case tooLong
        case privateAddress(String)

        public var description: String {
            switch self {
            case .malformed: "url must be an absolute http or https URL with a host"
            case .scheme: "url must use http or https"
            case .credentials: "url must not carry a user name or password"
            case .tooLong: "url must be at most \(WebhookURLPolicy.maxLength) bytes"
            case let .privateAddress(host): "url host \(host) is a loopback, private or otherwise internal address, which this server does not send to"
            }
        }
    }

    /// Checks the form of a URL, and its host when that is a literal address. Returns the host.
    @discardableResult
    public func check(_ text: String) throws(Refusal) -> String {
        guard text.utf8.count <= Self.maxLength else { throw .tooLong }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else { throw .malformed }
        guard scheme == "http" || scheme == "https" else { throw .scheme }
        guard components.user == nil, components.password == nil else { throw .credentials }
        guard var host = components.host, !host.isEmpty else { throw .malformed }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if !allowPrivateAddresses, let address = IPAddress(host), address.isInternal { throw .privateAddress(host) }
        return host
    }

    /// Judges the addresses a host name resolved to: refused if any is internal (a name that resolves to both is
    /// refused too: the connection could pick either).
    public func check(resolved addresses: [IPAddress], host: String) throws(Refusal) {
        guard !allowPrivateAddresses else { return }
        if addresses.contains(where: \.isInternal) { throw .privateAddress(host) }
    }
}

/// An IPv4 or IPv6 address as bytes, parsed with `inet_pton` (no name resolution).
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return
        }
        return nil
    }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public var description: String {
        bytes.count == 4 ? bytes.map(String.init).joined(separator: ".")
            : stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
    }

    /// Loopback, unspecified, private (RFC 1918), carrier-grade NAT (RFC 6598), link-local, multicast, reserved and
    /// broadcast for IPv4; loopback, unspecified, unique-local (fc00::/7), link-local (fe80::/10), multicast, and
    /// IPv4-mapped or -compatible forms of an internal IPv4 address for IPv6.
    public var isInternal: Bool {
        if bytes.count == 4 { return Self.isInternalV4(bytes) }
        let mappedPrefix: [UInt8] = Array(repeating: 0, count: 10) + [0xff, 0xff]
        if Array(bytes[0..<12]) == mappedPrefix || bytes[0..<12].allSatisfy({ $0 == 0 }) {
            // ::ffff:a.b.c.d and the deprecated ::a.b.c.d (which includes :: and ::1).
            return Self.isInternalV4(Array(bytes[12..<16]))
        }
        if bytes[0] & 0xfe == 0xfc { return true }
        if bytes[0] == 0xfe, bytes[1] & 0xc0 == 0x80 { return true }
        if bytes[0] == 0xff { return true }
        // 64:ff9b::/96 (NAT64) carries an IPv4 address in its last four bytes.
        if bytes[0..<12] == [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0] { return Self.isInternalV4(Array(bytes[12..<16])) }
        return false
    }

    private static func isInternalV4(_ b: [UInt8]) -> Bool {
        switch (b[0], b[1]) {
        case (0, _), (10, _), (127, _): true
        case (100, 64...127): true
        case (169, 254): true
        case (172, 16...31): true
        case (192, 168): true
        case (192, 0) where b[2] == 0 || b[2] == 2: true
        case (198, 18...19): true
        case (224...255, _): true
        default: false
        }
    }
}
