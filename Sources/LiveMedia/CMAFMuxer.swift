import Foundation
import MediaFormats
import NIOCore

/// Turns frames into CMAF chunks: one `moof`+`mdat` per video frame, carrying the audio frames that arrived before it,
/// so a frame is on the wire the moment it is ingested. Video is track 1 at 90 kHz, audio track 2 at its sample rate.
///
/// Sample durations are not known until the next frame arrives; the muxer writes the last observed frame interval and
/// relies on each chunk's `tfdt` for exact timing, which keeps the latency at zero frames instead of one. Audio is
/// written back to back by counting samples (``audioStart(measured:counted:rate:canJump:correcting:)``), so that jittery audio
/// timestamps never open a gap a browser would take for a discontinuity.
///
/// Given the stream clock, each chunk starts with a `prft` (ISO/IEC 14496-12 §8.16.5) mapping its decode time to the
/// clock's wall time, the same mapping as `EXT-X-PROGRAM-DATE-TIME`; `emsg` boxes given for a chunk follow it.
public struct CMAFMuxer: Sendable {
    public let video: AVCDecoderConfiguration?
    public let audio: AudioSpecificConfig?
    public let initSegment: ByteBuffer
    public let width: Int
    public let height: Int

    private var sequenceNumber: UInt32 = 0
    private var videoFrameDuration: Int64 = 3000
    private var lastVideoDTS: Int64?
    private var videoFrames = 0
    private var nextAudioTime: Int64?
    private var audioCorrecting = false

    static let videoTrackID: UInt32 = 1
    static let audioTrackID: UInt32 = 2
    /// AAC-LC frames carry 1024 samples each.
    static let aacFrameSamples: Int64 = 1024

    public init(video: AVCDecoderConfiguration?, audio: AudioSpecificConfig?) {
        self.video = video
        self.audio = audio
        var tracks: [FMP4.Track] = []
        var width = 0
        var height = 0
        if let video {
            let sps = try? video.parsedSPS()
            width = sps?.width ?? 0
            height = sps?.height ?? 0
            tracks.append(FMP4.Track(id: Self.videoTrackID, timescale: 90_000, kind: .video(video, width: width, height: height)))
        }
        if let audio {
            tracks.append(FMP4.Track(id: Self.audioTrackID, timescale: UInt32(max(1, audio.samplingFrequency)), kind: .audio(audio)))
        }
        self.width = width
        self.height = height
        self.initSegment = FMP4.initSegment(tracks: tracks)
    }

    /// RFC 6381 codec strings for the multivariant playlist and MSE.
    public var codecs: String {
        [video?.codecString, audio?.codecString].compactMap { $0 }.joined(separator: ",")
    }

    /// The current estimate of a video frame's duration, 90 kHz.
    public var estimatedFrameDuration: Int64 { videoFrameDuration }

    /// The `prft` flags: the NTP time is the stream clock's, one straight line anchored at the broadcast's first
    /// frame, so it is consistent across boxes and stays a small, steady offset (the publisher's capture-to-ingest
    /// delay) from the real time of the picture (ISO/IEC 14496-12 §8.16.5.3, value 24). Flags 0 would claim the time
    /// the frame entered the encoder, which the server never sees.
    public static let producerReferenceTimeFlags = FMP4.ProducerReferenceTime.realTime

    /// One chunk holding `audio` (in order) and then `video`. Either may be empty. With `clock`, a `prft` for the
    /// chunk's video (or, without video, audio) decode time comes first; `events` follow it, before the `moof`.
    public mutating func chunk(
        video frame: MediaFrame?, audio frames: [MediaFrame], clock: StreamClock? = nil, events: [FMP4.EventMessage] = []
    ) -> ByteBuffer {
        var runs: [FMP4.TrackRun] = []
        if let frame, video != nil {
            if let last = lastVideoDTS, frame.dts > last {
                // A running average: RTMP's millisecond timestamps make 30 fps alternate 33/34 ms, and the average
                // is what the cut decisions and written durations should use.
                let delta = frame.dts - last
                videoFrameDuration = videoFrames < 2 ? delta : (videoFrameDuration * 7 + delta + 4) / 8
                videoFrames += 1
            }
            lastVideoDTS = frame.dts
            let sample = FMP4.Sample(
                duration: UInt32(clamping: videoFrameDuration), isSync: frame.isKeyframe,
                compositionOffset: Int32(clamping: frame.pts - frame.dts), data: frame.data
            )
            runs.append(FMP4.TrackRun(trackID: Self.videoTrackID, baseDecodeTime: UInt64(max(0, frame.dts)), samples: [sample]))
        }
        if !frames.isEmpty, let audio {
            let rate = Int64(max(1, audio.samplingFrequency))
            let measured = frames[0].dts * rate / StreamClock.timescale
            var start = measured
            if let counted = nextAudioTime {
                (start, audioCorrecting) = Self.audioStart(
                    measured: measured, counted: counted, rate: rate, canJump: video == nil || frame?.isKeyframe == true,
                    correcting: audioCorrecting)
            }
            let samples = frames.map {
                FMP4.Sample(duration: UInt32(Self.aacFrameSamples), isSync: true, compositionOffset: 0, data: $0.data)
            }
            nextAudioTime = start + Self.aacFrameSamples * Int64(frames.count)
            runs.insert(FMP4.TrackRun(trackID: Self.audioTrackID, baseDecodeTime: UInt64(max(0, start)), samples: samples), at: 0)
        }
        sequenceNumber &+= 1
        let reference = clock.flatMap { producerReferenceTime(runs: runs, clock: $0) }
        return FMP4.fragment(sequenceNumber: sequenceNumber, runs: runs, producerReferenceTime: reference, eventMessages: events)
    }

    /// Audio timestamps within this many samples of the samples counted so far are jitter (RTMP's whole milliseconds,
    /// an encoder's uneven timestamps): audio stays back to back.
    static let audioJitterSamples: Int64 = 4 * aacFrameSamples

    /// Where a chunk's audio starts (in samples), and whether the audio is still being moved toward its timestamps.
    /// Where the audio counted so far ends (`counted`), unless its timestamp (`measured`) says otherwise by more than
    /// jitter. Then the audio moves toward its timestamp by at most half a frame a chunk, until it is within half a
    /// frame of it (`correcting` meanwhile), because MSE takes a gap of more than two frame durations as a
    /// discontinuity and drops every track's frames until the next random access point: the picture would freeze until
    /// the next keyframe while the sound played on. A jump of more than a second is taken at once, in a chunk that can
    /// start afresh (`canJump`: it carries a video keyframe, or the stream has no video).
    static func audioStart(measured: Int64, counted: Int64, rate: Int64, canJump: Bool, correcting: Bool) -> (Int64, correcting: Bool) {
        let drift = measured - counted
        let step = aacFrameSamples / 2
        if abs(drift) > rate { return canJump ? (measured, false) : (counted, false) }
        if abs(drift) <= (correcting ? step : audioJitterSamples) { return (counted, false) }
        return (counted + min(max(drift, -step), step), true)
    }

    /// The `prft` of a chunk: the decode time of its video run (else its audio run) in that track's timescale, and
    /// the stream clock's wall time at that moment.
    private func producerReferenceTime(runs: [FMP4.TrackRun], clock: StreamClock) -> FMP4.ProducerReferenceTime? {
        guard let run = runs.first(where: { $0.trackID == Self.videoTrackID }) ?? runs.first else { return nil }
        var mediaTime = Int64(clamping: run.baseDecodeTime)
        if run.trackID == Self.audioTrackID, let audio {
            mediaTime = mediaTime * StreamClock.timescale / Int64(max(1, audio.samplingFrequency))
        }
        let ntp = FMP4.ntpTimestamp(unixSeconds: clock.wallClock(atMediaTime: mediaTime).timeIntervalSince1970)
        return FMP4.ProducerReferenceTime(
            referenceTrackID: run.trackID, ntpTimestamp: ntp, mediaTime: run.baseDecodeTime, flags: Self.producerReferenceTimeFlags)
    }
}
