import Foundation
import MediaFormats

/// An interaction cue on a broadcast's timeline: a host action (poll launched, quiz question revealed, offer shown…)
/// stamped with the media time at which it happened.
///
/// It travels inside the video so that a plain HLS player sees it too: as an `EXT-X-DATERANGE` in every media
/// playlist whose window covers it (RFC 8216bis §4.4.5.1), and as a version 1 `emsg` box (ISO/IEC 23009-1
/// §5.10.3.3) in front of the next fragment produced. `docs/video.md` ("Cues in the video") shows both.
///
/// Limits, checked by ``Broadcast/addCue(_:)``: `id` and `kind` are not empty; `id`, `kind` and every attribute
/// value are at most ``maximumTextLength`` UTF-8 bytes; at most ``maximumAttributes`` attributes; `payload` at most
/// ``maximumPayloadSize`` bytes; `mediaTime` not negative; `duration` finite, not negative and under 2³² − 1 ticks
/// of 90 kHz (about 13 h 15 min, the `emsg` 32-bit duration). Text goes into quoted playlist strings, which cannot
/// hold `"`, control characters or line breaks: a `"` becomes `'` and each control character a space.
public struct MediaCue: Sendable, Hashable {
    /// Unique within the broadcast: the DATERANGE `ID`, and (hashed to 32 bits, ``eventID``) the `emsg` `id`.
    public var id: String
    /// What happened, e.g. "poll.launch", "quiz.reveal", "offer.show": `X-LIVELOOP-KIND` and the `emsg` `value`.
    public var kind: String
    /// 90 kHz, on the broadcast's media timeline (``StreamClock``'s domain, the timeline of every `tfdt`).
    public var mediaTime: Int64
    /// The wall-clock time (program date) of `mediaTime`, `clock.wallClock(atMediaTime: mediaTime)`. The broadcast
    /// recomputes it from `mediaTime` with its own clock, so `START-DATE` always agrees with `PROGRAM-DATE-TIME`.
    public var programDate: Date
    /// Seconds, if known: the DATERANGE `DURATION` and the `emsg` `event_duration`.
    public var duration: Double?
    /// Extra client attributes, written as `X-LIVELOOP-<KEY>="value"`. Keys are upper-cased and must then be made of
    /// A–Z, 0–9 and `-`; `KIND` and `MEDIA-TIME` are taken.
    public var attributes: [String: String]
    /// A small JSON document, the `emsg` `message_data`.
    public var payload: [UInt8]

    public init(
        id: String, kind: String, mediaTime: Int64, programDate: Date, duration: Double? = nil,
        attributes: [String: String] = [:], payload: [UInt8] = []
    ) {
        self.id = id
        self.kind = kind
        self.mediaTime = mediaTime
        self.programDate = programDate
        self.duration = duration
        self.attributes = attributes
        self.payload = payload
    }

    /// The `emsg` `scheme_id_uri` of every cue; the `value` is the cue's `kind`.
    public static let schemeIDURI = "https://liveloop.dev/cue/1"
    /// The DATERANGE `CLASS` of every cue.
    public static let dateRangeClass = "dev.liveloop.cue"
    /// The `emsg` `timescale`: 90 kHz, the stream clock's and the video track's, so `presentation_time` is the cue's
    /// `mediaTime` unchanged (audio-only streams use it too).
    public static let eventTimescale: UInt32 = 90_000
    public static let maximumPayloadSize = 1024
    public static let maximumTextLength = 256
    public static let maximumAttributes = 16
    /// Attribute keys the playlist tag already uses.
    static let reservedAttributeKeys: Set<String> = ["KIND", "MEDIA-TIME"]

    /// The `emsg` `id`: the 32-bit FNV-1a hash of `id`'s UTF-8 bytes, the same on every server and every run.
    public var eventID: UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in id.utf8 {
            hash = (hash ^ UInt32(byte)) &* 0x0100_0193
        }
        return hash
    }

    /// The cue as it goes into the video: text made safe for quoted playlist strings, attribute keys upper-cased and
    /// `programDate` taken from `clock`; nil when the cue breaks a limit.
    func normalized(clock: StreamClock) -> MediaCue? {
        guard mediaTime >= 0, payload.count <= Self.maximumPayloadSize, attributes.count <= Self.maximumAttributes else {
            return nil
        }
        if let duration {
            guard duration.isFinite, duration >= 0,
                duration * Double(Self.eventTimescale) < Double(FMP4.unknownEventDuration)
            else { return nil }
        }
        var cue = self
        cue.id = Self.quotable(id)
        cue.kind = Self.quotable(kind)
        guard !cue.id.isEmpty, !cue.kind.isEmpty, cue.id.utf8.count <= Self.maximumTextLength,
            cue.kind.utf8.count <= Self.maximumTextLength
        else { return nil }
        cue.attributes = [:]
        for (key, value) in attributes {
            let key = key.uppercased()
            let value = Self.quotable(value)
            guard !key.isEmpty, key.unicodeScalars.allSatisfy(Self.isAttributeNameScalar),
                !Self.reservedAttributeKeys.contains(key), cue.attributes[key] == nil,
                value.utf8.count <= Self.maximumTextLength
            else { return nil }
            cue.attributes[key] = value
        }
        cue.programDate = clock.wallClock(atMediaTime: mediaTime)
        return cue
    }

    /// The `emsg` box announcing the cue, placed in front of the next fragment.
    var eventMessage: FMP4.EventMessage {
        FMP4.EventMessage(
            schemeIDURI: Self.schemeIDURI, value: kind, timescale: Self.eventTimescale,
            presentationTime: UInt64(max(0, mediaTime)),
            duration: duration.map { UInt32((($0 * Double(Self.eventTimescale)).rounded())) } ?? FMP4.unknownEventDuration,
            id: eventID, message: payload)
    }

    /// `text` as a quoted-string may hold it (RFC 8216bis §4.2: no `"`, CR or LF; §4.1: no control characters,
    /// NFC): `"` becomes `'`, each control character a space. Removing NUL also keeps `emsg` strings whole.
    static func quotable(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.precomposedStringWithCanonicalMapping.unicodeScalars {
            switch scalar.value {
            case 0x22: scalars.append("'")
            case 0x00...0x1F, 0x7F...0x9F: scalars.append(" ")
            default: scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    /// RFC 8216bis §4.2: an AttributeName is made of A–Z, 0–9 and `-`.
    static func isAttributeNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "0"..."9", "-": true
        default: false
        }
    }
}
