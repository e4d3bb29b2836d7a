import Foundation

/// The media playlist of a recording (RFC 8216bis §4.4): byte ranges of its fragmented MP4 files (`EXT-X-MAP` with
/// the init segment's range, `EXT-X-BYTERANGE` per segment), `EXT-X-PROGRAM-DATE-TIME` on every segment so the
/// interaction timeline maps onto it, and every cue as an `EXT-X-DATERANGE` written as the live playlists wrote it.
///
/// A finished recording is `EXT-X-PLAYLIST-TYPE:VOD` with `EXT-X-ENDLIST`; one still being written is `EVENT` (a
/// player reloads it; segments are only ever added).
public enum VODPlaylist {
    public static func render(segments: [RecordedSegment], cues: [RecordedCue], finished: Bool) -> String {
        let target = max(1, Int((segments.map(\.duration).max() ?? 1).rounded(.up)))
        var lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            "#EXT-X-TARGETDURATION:\(target)",
            "#EXT-X-PLAYLIST-TYPE:\(finished ? "VOD" : "EVENT")",
            "#EXT-X-INDEPENDENT-SEGMENTS",
            "#EXT-X-MEDIA-SEQUENCE:0",
        ]
        let cues = cues.sorted { $0.mediaTime < $1.mediaTime }
        var nextCue = 0
        /// Cues that start before `end` (seconds; nil: all that are left), after the program date of their segment.
        func appendCues(before end: Double?) {
            while nextCue < cues.count, end.map({ cues[nextCue].mediaTime < $0 }) ?? true {
                if let tag = dateRange(cues[nextCue]) { lines.append(tag) }
                nextCue += 1
            }
        }
        var map: (String, Int)?
        for (index, segment) in segments.enumerated() {
            if segment.discontinuity, index > 0 { lines.append("#EXT-X-DISCONTINUITY") }
            if map.map({ $0 != (segment.file, segment.initLength) }) ?? true {
                lines.append("#EXT-X-MAP:URI=\"\(segment.file)\",BYTERANGE=\"\(segment.initLength)@0\"")
                map = (segment.file, segment.initLength)
            }
            lines.append("#EXT-X-PROGRAM-DATE-TIME:\(HLSPackager.programDateTime(Date(timeIntervalSince1970: segment.programDate / 1000)))")
            appendCues(before: index + 1 < segments.count ? segments[index + 1].mediaTime : nil)
            lines.append("#EXTINF:\(String(format: "%.5f", segment.duration)),")
            lines.append("#EXT-X-BYTERANGE:\(segment.length)@\(segment.offset)")
            lines.append(segment.file)
        }
        if finished { lines.append("#EXT-X-ENDLIST") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The cue's tag, its text made quotable as in the live playlists (``MediaCue``); nil for a cue a live playlist
    /// would have refused.
    static func dateRange(_ recorded: RecordedCue) -> String? {
        let date = Date(timeIntervalSince1970: recorded.programDate / 1000)
        let mediaTime = Int64((recorded.mediaTime * Double(StreamClock.timescale)).rounded())
        let cue = MediaCue(id: recorded.id, kind: recorded.kind, mediaTime: mediaTime, programDate: date,
                           attributes: recorded.attributes)
        // The cue's own (media time, date) pair is the clock: START-DATE is the date it was stamped with.
        guard let normalized = cue.normalized(clock: StreamClock(anchorMediaTime: mediaTime, anchorWallClock: date)) else { return nil }
        return HLSPackager.dateRange(normalized)
    }
}
