import Foundation

/// Carries a playback token through an HLS playlist (RFC 8216bis §4.4): every URI line and every `URI="…"` attribute
/// (EXT-X-MAP, EXT-X-PART, EXT-X-PRELOAD-HINT, EXT-X-RENDITION-REPORT, EXT-X-MEDIA, EXT-X-I-FRAME-STREAM-INF) that
/// points at this server gets `NAME=TOKEN` in its query, so any player (ffplay, Safari, hls.js, a CDN in front)
/// fetches media and reloads with the token it was given for the playlist. Absolute URIs to other hosts are left alone.
enum PlaylistTokenRewriter {
    static func rewrite(_ playlist: String, name: String, token: String) -> String {
        let pair = "\(name)=\(token)"
        var out = ""
        out.reserveCapacity(playlist.utf8.count + 64 * 32)
        for line in playlist.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("#") {
                out += rewriteAttributes(line, pair: pair, name: name)
            } else if line.trimmingCharacters(in: .whitespaces).isEmpty {
                out += line
            } else {
                out += withToken(String(line), pair: pair, name: name)
            }
            out += "\n"
        }
        out.removeLast()
        return out
    }

    static func withToken(_ uri: String, pair: String, name: String) -> String {
        guard !uri.contains("://"), !uri.hasPrefix("//") else { return uri }
        let (head, fragment) = uri.firstIndex(of: "#").map { (String(uri[..<$0]), String(uri[$0...])) } ?? (uri, "")
        if let query = head.split(separator: "?", maxSplits: 1).dropFirst().first,
           query.split(separator: "&").contains(where: { $0.hasPrefix("\(name)=") }) {
            return uri
        }
        return head + (head.contains("?") ? "&" : "?") + pair + fragment
    }

    private static func rewriteAttributes(_ line: Substring, pair: String, name: String) -> String {
        guard line.contains("URI=\"") else { return String(line) }
        var out = ""
        var rest = line[...]
        while let range = rest.range(of: "URI=\"") {
            out += rest[..<range.upperBound]
            rest = rest[range.upperBound...]
            guard let close = rest.firstIndex(of: "\"") else { break }
            out += withToken(String(rest[..<close]), pair: pair, name: name)
            rest = rest[close...]
        }
        out += rest
        return out
    }
}
