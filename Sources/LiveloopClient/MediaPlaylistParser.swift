import Foundation

/// What an LL-HLS client reads from a media playlist (RFC 8216bis §4.4): segments, parts, the preload hint.
public struct ParsedMediaPlaylist: Sendable {
    public struct Part: Sendable, Equatable {
        public var msn: Int
        public var index: Int
        public var uri: String
        public var duration: Double
        public var independent: Bool
    }

    public struct Segment: Sendable, Equatable {
        public var msn: Int
        public var uri: String
        public var duration: Double
        public var programDateTime: Date?
        public var discontinuity: Bool
        public var map: String?
    }

    public var targetDuration: Int = 0
    public var mediaSequence: Int = 0
    public var partTarget: Double?
    public var serverControl: String?
    public var segments: [Segment] = []
    public var parts: [Part] = []
    public var preloadHint: String?
    public var ended = false
    public var skipped = 0
    public var version: Int?

    /// The sequence number of the segment the parts after the last `EXTINF` belong to.
    public var openSegmentSequence: Int { mediaSequence + skipped + segments.count }

    public init(_ text: String) {
        var msn: Int?
        var pendingPDT: Date?
        var pendingDiscontinuity = false
        var currentMap: String?
        var pendingDuration: Double?
        var partIndex = 0
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = String(raw)
            func value(_ tag: String) -> String? { line.hasPrefix(tag) ? String(line.dropFirst(tag.count)) : nil }
            if let v = value("#EXT-X-TARGETDURATION:") { targetDuration = Int(v) ?? 0 }
            else if let v = value("#EXT-X-VERSION:") { version = Int(v) }
            else if let v = value("#EXT-X-MEDIA-SEQUENCE:") { mediaSequence = Int(v) ?? 0; msn = mediaSequence }
            else if let v = value("#EXT-X-PART-INF:") { partTarget = Double(Self.attributes(v)["PART-TARGET"] ?? "") }
            else if let v = value("#EXT-X-SERVER-CONTROL:") { serverControl = v }
            else if let v = value("#EXT-X-SKIP:") {
                skipped = Int(Self.attributes(v)["SKIPPED-SEGMENTS"] ?? "") ?? 0
                msn = (msn ?? mediaSequence) + skipped
            }
            else if let v = value("#EXT-X-PROGRAM-DATE-TIME:") { pendingPDT = Self.parseDate(v) }
            else if line == "#EXT-X-DISCONTINUITY" { pendingDiscontinuity = true }
            else if let v = value("#EXT-X-MAP:") { currentMap = Self.attributes(v)["URI"] }
            else if let v = value("#EXT-X-PART:") {
                let a = Self.attributes(v)
                parts.append(Part(msn: msn ?? mediaSequence, index: partIndex, uri: a["URI"] ?? "",
                                  duration: Double(a["DURATION"] ?? "") ?? 0, independent: a["INDEPENDENT"] == "YES"))
                partIndex += 1
            }
            else if let v = value("#EXT-X-PRELOAD-HINT:") { preloadHint = Self.attributes(v)["URI"] }
            else if let v = value("#EXTINF:") { pendingDuration = Double(v.split(separator: ",").first ?? "") }
            else if line == "#EXT-X-ENDLIST" { ended = true }
            else if !line.hasPrefix("#"), let duration = pendingDuration {
                let number = msn ?? mediaSequence
                segments.append(Segment(msn: number, uri: line, duration: duration, programDateTime: pendingPDT,
                                        discontinuity: pendingDiscontinuity, map: currentMap))
                msn = number + 1
                pendingDuration = nil
                pendingPDT = nil
                pendingDiscontinuity = false
                partIndex = 0
            }
        }
    }

    /// Parses an attribute list (`KEY=VALUE,KEY="quoted, value"`).
    public static func attributes(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        var key = ""
        var value = ""
        var inKey = true
        var quoted = false
        for c in text {
            if inKey {
                if c == "=" { inKey = false } else { key.append(c) }
            } else if c == "\"" {
                quoted.toggle()
            } else if c == ",", !quoted {
                result[key.trimmingCharacters(in: .whitespaces)] = value
                key = ""; value = ""; inKey = true
            } else {
                value.append(c)
            }
        }
        if !key.isEmpty { result[key.trimmingCharacters(in: .whitespaces)] = value }
        return result
    }

    static func parseDate(_ text: String) -> Date? {
        try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
