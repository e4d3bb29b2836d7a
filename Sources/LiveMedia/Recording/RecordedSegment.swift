import Foundation

/// One segment of a recording as the VOD playlist lists it: a byte range of one of the recording's media files, from
/// a fragment that starts with a video keyframe (any fragment of an audio-only stream) to the next such cut.
///
/// The recorder appends one JSON line per completed segment to the recording's `segments.jsonl`, after the segment's
/// bytes are in the media file, so the index never names bytes that are not on disk.
public struct RecordedSegment: Codable, Sendable, Equatable {
    /// The media file's name in the recording's folder (`media0.mp4`, then `media1.mp4` after the codecs changed).
    public var file: String
    /// Bytes of the init segment (`ftyp`+`moov`) at the start of `file`: the `EXT-X-MAP` byte range.
    public var initLength: Int
    public var offset: Int
    public var length: Int
    /// Decode time of the segment's first frame on the broadcast's media timeline, seconds (the `tfdt` in the file).
    public var mediaTime: Double
    public var duration: Double
    /// The wall-clock time of `mediaTime` (the stream clock's), Unix milliseconds: `EXT-X-PROGRAM-DATE-TIME`.
    public var programDate: Double
    /// A gap comes before this segment (the publisher left and came back, its timestamps jumped, or the recorder
    /// fell behind and skipped to a keyframe): `EXT-X-DISCONTINUITY`.
    public var discontinuity: Bool

    public init(file: String, initLength: Int, offset: Int, length: Int, mediaTime: Double, duration: Double,
                programDate: Double, discontinuity: Bool) {
        self.file = file
        self.initLength = initLength
        self.offset = offset
        self.length = length
        self.mediaTime = mediaTime
        self.duration = duration
        self.programDate = programDate
        self.discontinuity = discontinuity
    }
}

/// An interaction cue of a recording: what the live playlists carried as `EXT-X-DATERANGE`, kept so the VOD playlist
/// carries it too. One JSON line each in the recording's `cues.jsonl`.
public struct RecordedCue: Codable, Sendable, Equatable {
    public var id: String
    public var kind: String
    /// Seconds on the broadcast's media timeline.
    public var mediaTime: Double
    /// Unix milliseconds, the program date of `mediaTime`.
    public var programDate: Double
    public var attributes: [String: String]

    public init(id: String, kind: String, mediaTime: Double, programDate: Double, attributes: [String: String]) {
        self.id = id
        self.kind = kind
        self.mediaTime = mediaTime
        self.programDate = programDate
        self.attributes = attributes
    }
}

/// Reads a JSON-lines file the recorder appends to: one value per complete line. A line cut short by a crash (the
/// last one, without its newline) and any line that does not decode are skipped.
public enum JSONLines {
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) -> [T] {
        let decoder = JSONDecoder()
        var values: [T] = []
        var start = data.startIndex
        while let newline = data[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if newline > start, let value = try? decoder.decode(T.self, from: data[start..<newline]) { values.append(value) }
            start = data.index(after: newline)
        }
        return values
    }

    /// Each complete line's bytes, unparsed (the replay timeline is served as written).
    public static func lines(in data: Data) -> [Data] {
        var lines: [Data] = []
        var start = data.startIndex
        while let newline = data[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if newline > start { lines.append(data[start..<newline]) }
            start = data.index(after: newline)
        }
        return lines
    }
}
