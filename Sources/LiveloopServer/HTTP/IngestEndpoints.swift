/// Where encoders publish to this server, as the channel API and the admin page show it: RTMP (`rtmp://HOST:PORT/live`
/// + the stream key), RTMPS with TLS, SRT (`srt://HOST:PORT`, the stream key in `streamid`) where libsrt is present.
///
/// The host is the server's configured public host (`--public-host`) when there is one; otherwise the host name the
/// request reached the server by (its `Host` header: right unless a proxy or CDN that carries no RTMP stands in
/// front); otherwise this machine's own name, which is only a guess. `hostSource` says which, so a page or a script
/// can say so instead of printing a URL that may not work from elsewhere.
struct IngestEndpoints: Sendable, Equatable {
    /// Where the host name in the URLs came from.
    enum HostSource: String, Sendable, Codable {
        /// `--public-host` (or its variable or config-file key).
        case configured
        /// The `Host` header of the request being answered.
        case request
        /// This machine's name: a guess, wrong whenever encoders reach the server by another name.
        case machine
    }

    var rtmp: String
    var rtmps: String?
    var srt: String?
    var hostSource: HostSource

    /// The endpoints for the given ports. `configured` is `--public-host`; `requestHost` the request's `Host` header
    /// (a port in it, and IPv6 brackets, are handled); `machine` this machine's name.
    init(configured: String?, requestHost: String?, machine: String, rtmpPort: Int, rtmpsPort: Int?, srtPort: Int?) {
        let host: String
        if let configured, !configured.isEmpty {
            (host, hostSource) = (configured, .configured)
        } else if let name = requestHost.flatMap(Self.hostName(authority:)) {
            (host, hostSource) = (name, .request)
        } else {
            (host, hostSource) = (machine, .machine)
        }
        let named = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        rtmp = "rtmp://\(named):\(rtmpPort)/live"
        rtmps = rtmpsPort.map { "rtmps://\(named):\($0)/live" }
        srt = srtPort.map { "srt://\(named):\($0)" }
    }

    /// The host of an HTTP authority (`example.com:8080` → `example.com`, `[::1]:8080` → `::1`), or nil when it is
    /// empty or holds characters no host name has (a forged header cannot put markup or a path into the URLs).
    static func hostName(authority: String) -> String? {
        var host = Substring(authority)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        let allowed = host.unicodeScalars.allSatisfy { scalar in
            scalar.properties.isASCIIHexDigit || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                || scalar == "." || scalar == "-" || scalar == ":"
        }
        guard !host.isEmpty, host.count <= 253, allowed else { return nil }
        return String(host)
    }
}
