import NIOCore

/// One coded access unit on its way from ingest to the packagers.
///
/// Timestamps are in the 90 kHz MPEG clock whatever the source (RTMP's milliseconds are multiplied by 90), so every
/// consumer works in one unit. `data` is a slice of the ingest buffer: H.264 as length-prefixed NAL units (the
/// ISO/IEC 14496-15 sample format FLV uses), AAC as one raw frame.
public struct MediaFrame: Sendable {
    /// Which elementary stream a frame belongs to.
    public enum Track: Sendable, Equatable {
        case video
        case audio
    }

    public var track: Track
    /// Presentation time, 90 kHz.
    public var pts: Int64
    /// Decode time, 90 kHz. `pts - dts` is the composition offset B-frames need.
    public var dts: Int64
    public var isKeyframe: Bool
    public var data: ByteBuffer

    public init(track: Track, pts: Int64, dts: Int64, isKeyframe: Bool, data: ByteBuffer) {
        self.track = track
        self.pts = pts
        self.dts = dts
        self.isKeyframe = isKeyframe
        self.data = data
    }
}

/// Codec configuration of a stream, announced before (or between) its frames.
public enum CodecConfiguration: Sendable, Equatable {
    /// The `avcC` record of an H.264 stream.
    case avc([UInt8])
    /// The AudioSpecificConfig of an AAC stream.
    case aac([UInt8])
}
