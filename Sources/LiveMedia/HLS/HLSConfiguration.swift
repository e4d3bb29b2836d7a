/// The shape of the LL-HLS output of every broadcast.
public struct HLSConfiguration: Sendable, Equatable {
    /// PART-TARGET in seconds (RFC 8216bis §4.4.3.7). Parts are cut at frame boundaries and never exceed it.
    public var partTarget: Double = 0.2
    /// A segment is closed at the first keyframe after this many seconds.
    public var segmentTarget: Double = 2.0
    /// Completed segments kept in memory and listed in the playlist.
    public var segmentCount: Int = 10
    /// Segments whose parts are still listed, counted back from the live edge (the specification asks for parts of at
    /// least the last three target durations).
    public var partListedSegments: Int = 3

    public init(partTarget: Double = 0.2, segmentTarget: Double = 2.0, segmentCount: Int = 10) {
        self.partTarget = partTarget
        self.segmentTarget = segmentTarget
        self.segmentCount = max(3, segmentCount)
    }

    /// PART-HOLD-BACK: three part targets, the specification's recommended minimum.
    public var partHoldBack: Double { 3 * partTarget }
}
