import DequeModule
import Foundation

/// The query of a media playlist request (RFC 8216bis §6.2.5.1–6.2.5.2).
public struct PlaylistRequest: Sendable, Equatable {
    public var msn: Int?
    public var part: Int?
    /// `_HLS_skip=YES`: a delta update.
    public var skip: Bool

    public init(msn: Int? = nil, part: Int? = nil, skip: Bool = false) {
        self.msn = msn
        self.part = part
        self.skip = skip
    }

    /// Reads `_HLS_msn`, `_HLS_part` and `_HLS_skip`; a malformed value, or `_HLS_part` without `_HLS_msn`, is an error.
    public init(query: [String: String]) throws(HLSRequestError) {
        if let value = query["_HLS_msn"] {
            guard let n = Int(value), n >= 0 else { throw .badRequest("_HLS_msn must be a non-negative integer") }
            msn = n
        }
        if let value = query["_HLS_part"] {
            guard let n = Int(value), n >= 0 else { throw .badRequest("_HLS_part must be a non-negative integer") }
            guard msn != nil else { throw .badRequest("_HLS_part needs _HLS_msn") }
            part = n
        }
        skip = query["_HLS_skip"] == "YES" || query["_HLS_skip"] == "v2"
    }
}

public enum HLSRequestError: Error, Equatable, Sendable {
    case badRequest(String)
}

/// File names inside a channel's HLS folder.
public enum HLSNames {
    public static func initSegment(_ version: Int) -> String { "init\(version).mp4" }
    public static func segment(_ msn: Int) -> String { "seg\(msn).m4s" }
    public static func part(_ msn: Int, _ index: Int) -> String { "part\(msn).\(index).m4s" }

    public enum Resource: Equatable, Sendable {
        case initSegment(Int)
        case segment(Int)
        case part(Int, Int)
    }

    /// Parses a file name back; nil for anything we did not name.
    public static func parse(_ name: String) -> Resource? {
        if name.hasPrefix("init"), name.hasSuffix(".mp4"), let v = number(name.dropFirst(4).dropLast(4)) {
            return .initSegment(v)
        }
        if name.hasPrefix("seg"), name.hasSuffix(".m4s"), let n = number(name.dropFirst(3).dropLast(4)) {
            return .segment(n)
        }
        if name.hasPrefix("part"), name.hasSuffix(".m4s") {
            let numbers = name.dropFirst(4).dropLast(4).split(separator: ".", omittingEmptySubsequences: false)
            if numbers.count == 2, let m = number(numbers[0]), let p = number(numbers[1]) { return .part(m, p) }
        }
        return nil
    }

    /// A number as we write it: decimal digits, no sign, no leading zero. `Int(_:)` alone also takes "-1" and "+1",
    /// which would let "seg-1.m4s" or "seg+1.m4s" through as other names for files we never wrote.
    private static func number(_ text: Substring) -> Int? {
        guard let value = Int(text), value >= 0, String(value) == text else { return nil }
        return value
    }
}

/// `EXT-X-RENDITION-REPORT` (RFC 8216bis §4.4.5.4): where another rendition of the same content stands, so a client
/// switching to it can ask a blocking reload of the right part at once.
public struct RenditionReport: Sendable, Equatable {
    /// Relative to the playlist that carries the report.
    public var uri: String
    public var lastMSN: Int?
    public var lastPart: Int?

    public init(uri: String, lastMSN: Int?, lastPart: Int?) {
        self.uri = uri
        self.lastMSN = lastMSN
        self.lastPart = lastPart
    }
}

extension HLSPackager {
    /// This rendition's report, as another rendition's playlist carries it.
    public func report(uri: String) -> RenditionReport {
        let position = lastPartPosition
        return RenditionReport(uri: uri, lastMSN: position?.msn, lastPart: position?.part)
    }

    /// `CAN-SKIP-UNTIL`: six target durations, the specification's minimum.
    public var canSkipUntil: Double { Double(6 * targetDuration) }

    /// Renders the media playlist (RFC 8216bis §4.4). With `skip`, segments older than `CAN-SKIP-UNTIL` from the end
    /// are replaced by `EXT-X-SKIP` (§4.4.5.2).
    ///
    /// Each cue whose start is not older than the first listed segment is an `EXT-X-DATERANGE` (§4.4.5.1), written
    /// after the `EXT-X-PROGRAM-DATE-TIME` of the segment it starts in. `CAN-SKIP-DATERANGES` is not announced, so a
    /// delta update keeps every one: those of skipped segments follow `EXT-X-SKIP`.
    public func renderMediaPlaylist(skip: Bool = false, reports: [RenditionReport] = []) -> String {
        var lines: [String] = [
            "#EXTM3U",
            "#EXT-X-VERSION:9",
            "#EXT-X-TARGETDURATION:\(targetDuration)",
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=\(format(configuration.partHoldBack, 3)),"
                + "CAN-SKIP-UNTIL=\(format(canSkipUntil, 1))",
            "#EXT-X-PART-INF:PART-TARGET=\(format(configuration.advertisedPartTarget, 5))",
            "#EXT-X-MEDIA-SEQUENCE:\(segments.first?.sequenceNumber ?? openSegment?.sequenceNumber ?? 0)",
            "#EXT-X-DISCONTINUITY-SEQUENCE:\(discontinuitySequence)",
        ]
        var all = Array(segments)
        if let openSegment { all.append(openSegment) }

        // Date ranges are in media-time order; those before the first listed segment are not written.
        var nextCue = all.first.flatMap { first in dateRanges.firstIndex { $0.mediaTime >= first.startTime } } ?? dateRanges.endIndex
        func appendCues(before end: Int64?) {
            while nextCue < dateRanges.endIndex, end.map({ dateRanges[nextCue].mediaTime < $0 }) ?? true {
                lines.append(dateRanges[nextCue].tag)
                nextCue += 1
            }
        }

        var skipped = 0
        if skip {
            // Segments that start more than CAN-SKIP-UNTIL before the end of the playlist may be left out.
            var fromEnd = 0.0
            var keep = segments.count
            for index in stride(from: segments.count - 1, through: 0, by: -1) {
                fromEnd += segments[index].duration ?? 0
                if fromEnd > canSkipUntil { break }
                keep = index
            }
            skipped = keep
            if skipped > 0 {
                lines.append("#EXT-X-SKIP:SKIPPED-SEGMENTS=\(skipped)")
                appendCues(before: skipped < all.count ? all[skipped].startTime : nil)
            }
        }

        let partsFrom = segments.count - configuration.partListedSegments
        var currentMap = -1
        for (index, segment) in all.enumerated() where index >= skipped {
            // Written even on the first listed segment: DISCONTINUITY-SEQUENCE only counts the tag once its segment
            // has slid out (RFC 8216 §6.2.2), so dropping it earlier would change the segment's discontinuity number.
            if segment.discontinuity { lines.append("#EXT-X-DISCONTINUITY") }
            if segment.initVersion != currentMap {
                lines.append("#EXT-X-MAP:URI=\"\(HLSNames.initSegment(segment.initVersion))\"")
                currentMap = segment.initVersion
            }
            lines.append("#EXT-X-PROGRAM-DATE-TIME:\(Self.programDateTime(segment.programDateTime))")
            appendCues(before: index + 1 < all.count ? all[index + 1].startTime : nil)
            if index >= partsFrom {
                let completeParts = segment.isComplete ? segment.parts.count : segment.parts.count - 1
                for part in segment.parts.prefix(completeParts) {
                    var line = "#EXT-X-PART:DURATION=\(format(part.duration, 5)),URI=\"\(HLSNames.part(segment.sequenceNumber, part.index))\""
                    if part.independent { line += ",INDEPENDENT=YES" }
                    lines.append(line)
                }
            }
            if let duration = segment.duration {
                if segment.gap { lines.append("#EXT-X-GAP") }
                lines.append("#EXTINF:\(format(duration, 5)),")
                lines.append(HLSNames.segment(segment.sequenceNumber))
            }
        }
        if ended {
            lines.append("#EXT-X-ENDLIST")
        } else if let (msn, part) = openPartPosition {
            lines.append("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"\(HLSNames.part(msn, part))\"")
        }
        for report in reports {
            var line = "#EXT-X-RENDITION-REPORT:URI=\"\(report.uri)\""
            if let msn = report.lastMSN { line += ",LAST-MSN=\(msn)" }
            if let part = report.lastPart { line += ",LAST-PART=\(part)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func programDateTime(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// The `EXT-X-DATERANGE` of a cue (RFC 8216bis §4.4.5.1), whose text ``MediaCue`` has already made quotable:
    /// `START-DATE` is written as `EXT-X-PROGRAM-DATE-TIME` is, so the two agree to the millisecond.
    static func dateRange(_ cue: MediaCue) -> String {
        var line = "#EXT-X-DATERANGE:ID=\"\(cue.id)\",CLASS=\"\(MediaCue.dateRangeClass)\","
            + "START-DATE=\"\(programDateTime(cue.programDate))\""
        if let duration = cue.duration { line += ",DURATION=\(String(format: "%.3f", duration))" }
        line += ",X-LIVELOOP-KIND=\"\(cue.kind)\""
        line += ",X-LIVELOOP-MEDIA-TIME=\(String(format: "%.3f", Double(cue.mediaTime) / Double(StreamClock.timescale)))"
        for (key, value) in cue.attributes.sorted(by: { $0.key < $1.key }) {
            line += ",X-LIVELOOP-\(key)=\"\(value)\""
        }
        return line
    }

    private func format(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }
}
