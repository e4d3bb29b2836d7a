import Foundation
import NIOCore

/// A Partial Segment (RFC 8216bis §4.4.4.9): one or more CMAF chunks (moof+mdat), cut at frame boundaries.
public struct Part: Sendable {
    public var index: Int
    /// Seconds.
    public var duration: Double
    /// The part starts with a video keyframe (or the stream has no video).
    public var independent: Bool
    public var bytes: ByteBuffer
}

/// A Media Segment: parts from one keyframe to the next segment's keyframe.
public struct Segment: Sendable {
    public var sequenceNumber: Int
    /// An `EXT-X-DISCONTINUITY` precedes this segment (the publisher reconnected).
    public var discontinuity: Bool
    /// Which `EXT-X-MAP` (init segment version) the segment needs.
    public var initVersion: Int
    public var programDateTime: Date
    /// Media time of the first frame, 90 kHz.
    public var startTime: Int64
    /// Seconds; set when the segment is complete.
    public var duration: Double?
    public var parts: [Part]
    /// `EXT-X-GAP` (RFC 8216bis §4.4.4.7): a slot with no media, kept so this rendition's sequence numbers stay those of
    /// the source's segments at the same times (a transcoded rendition that restarted).
    public var gap = false
    /// Presentation time of the first frame, 90 kHz (after `startTime` when the stream has B-frames): where a
    /// transcoded rendition without B-frames starts the same segment.
    public var presentationStart: Int64 = 0

    public var isComplete: Bool { duration != nil }

    public var byteCount: Int { parts.reduce(0) { $0 + $1.bytes.readableBytes } }
}
