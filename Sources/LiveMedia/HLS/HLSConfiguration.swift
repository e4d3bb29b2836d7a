/// The shape of the LL-HLS output of every broadcast.
public struct HLSConfiguration: Sendable, Equatable {
    /// The part duration asked for, in seconds. Parts are cut at frame boundaries, so at NTSC rates a part of whole
    /// frames can overrun it slightly (six 29.97 fps frames last 200.2 ms); see `advertisedPartTarget`.
    public var partTarget: Double = 0.2
    /// A segment is closed at the first keyframe after this many seconds.
    public var segmentTarget: Double = 2.0
    /// Completed segments kept in memory and listed in the playlist.
    public var segmentCount: Int = 10
    /// Segments whose parts are still listed, counted back from the live edge (the specification asks for parts of at
    /// least the last three target durations).
    public var partListedSegments: Int = 3
    /// Seconds: a publisher's timestamps that jump further than this (either way) are taken out of the media timeline,
    /// and a new segment starts after `EXT-X-DISCONTINUITY` (see ``MediaTimeline``).
    public var timestampJumpThreshold: Double = 10

    public init(partTarget: Double = 0.2, segmentTarget: Double = 2.0, segmentCount: Int = 10, timestampJumpThreshold: Double = 10) {
        self.partTarget = partTarget
        self.segmentTarget = segmentTarget
        self.segmentCount = max(3, segmentCount)
        self.timestampJumpThreshold = timestampJumpThreshold
    }

    /// `EXT-X-TARGETDURATION` (RFC 8216bis §4.4.3.1): the segment target rounded up, fixed for the whole broadcast.
    /// No segment is longer than it rounds to (the packager cuts a segment that reaches it without a keyframe).
    public var targetDuration: Int { max(1, Int(segmentTarget.rounded(.up))) }

    /// The longest segment the packager writes, 90 kHz: just under the target duration plus half a second, the most
    /// whose EXTINF still rounds to the target duration (RFC 8216bis §4.4.3.1).
    public var longestSegmentTicks: Int64 { Int64(targetDuration) * StreamClock.timescale + StreamClock.timescale / 2 - 90 }

    /// The PART-TARGET the playlist announces (RFC 8216bis §4.4.3.7): the asked-for target plus 1 %, which lets a
    /// part hold the whole frames NTSC rates need (at 29.97 fps, six frames = 200.2 ms ≤ 202 ms) without falling under
    /// the 85 % floor that five frames would. No part ever exceeds it.
    public var advertisedPartTarget: Double { ((partTarget * 1.01) * 100_000).rounded() / 100_000 }

    /// PART-HOLD-BACK: three part targets, the specification's recommended minimum.
    public var partHoldBack: Double { 3 * advertisedPartTarget }
}
