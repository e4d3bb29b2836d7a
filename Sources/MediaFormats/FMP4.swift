import NIOCore

/// Fragmented MP4 as CMAF (ISO/IEC 23000-19) uses it: one init segment (`ftyp` + `moov`) describing the tracks,
/// then fragments (`moof` + `mdat`) carrying samples, plus the `emsg` and `prft` boxes that travel between fragments.
///
/// Everything here is a pure function of its arguments returning a new `ByteBuffer`; the value types below describe
/// what to write.
public enum FMP4 {
    /// What a track carries, with the codec configuration its sample entry needs.
    public enum TrackKind: Sendable, Equatable {
        /// H.264 video: the `avcC` record and the displayed size in pixels.
        case video(AVCDecoderConfiguration, width: Int, height: Int)
        /// AAC audio.
        case audio(AudioSpecificConfig)
    }

    /// One track of the init segment.
    public struct Track: Sendable, Equatable {
        /// `track_ID`, non-zero and unique in the presentation.
        public var id: UInt32
        /// Media timescale (ticks per second): 90000 for video, the sampling rate for audio.
        public var timescale: UInt32
        public var kind: TrackKind

        public init(id: UInt32, timescale: UInt32, kind: TrackKind) {
            self.id = id
            self.timescale = timescale
            self.kind = kind
        }
    }

    /// One sample (access unit) of a track run.
    public struct Sample: Sendable {
        /// Duration in the track's timescale (the decode-time distance to the next sample).
        public var duration: UInt32
        /// True for a sync sample (an IDR picture; every AAC frame).
        public var isSync: Bool
        /// Presentation time minus decode time, in the track's timescale (`trun` version 1 allows negative values).
        public var compositionOffset: Int32
        /// The sample's bytes: AVC length-prefixed NAL units as in FLV, or one raw AAC frame.
        public var data: ByteBuffer

        public init(duration: UInt32, isSync: Bool, compositionOffset: Int32 = 0, data: ByteBuffer) {
            self.duration = duration
            self.isSync = isSync
            self.compositionOffset = compositionOffset
            self.data = data
        }
    }

    /// Consecutive samples of one track starting at `baseDecodeTime`, written as one `traf` of a fragment.
    public struct TrackRun: Sendable {
        public var trackID: UInt32
        /// Decode time of the first sample, in the track's timescale (`tfdt` baseMediaDecodeTime).
        public var baseDecodeTime: UInt64
        public var samples: [Sample]

        public init(trackID: UInt32, baseDecodeTime: UInt64, samples: [Sample]) {
            self.trackID = trackID
            self.baseDecodeTime = baseDecodeTime
            self.samples = samples
        }
    }
}
