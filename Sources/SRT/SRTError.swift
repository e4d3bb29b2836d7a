/// Why the SRT listener could not start.
public enum SRTError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No libsrt on this system (none of the names in ``LibSRT/candidateNames`` could be opened).
    case libraryUnavailable
    /// The address is not an IPv4 or IPv6 literal.
    case badAddress(String)
    /// A libsrt call failed, with libsrt's own message.
    case call(String, message: String)
    /// `--srt-passphrase` must be 10–79 characters (SRTO_PASSPHRASE).
    case badPassphrase

    public var description: String {
        switch self {
        case .libraryUnavailable: "libsrt is not installed (e.g. apt-get install libsrt1.5-openssl)"
        case let .badAddress(host): "SRT: \(host) is not an IP address"
        case let .call(name, message): "SRT: \(name) failed: \(message)"
        case .badPassphrase: "SRT passphrase must be 10–79 characters"
        }
    }
}
