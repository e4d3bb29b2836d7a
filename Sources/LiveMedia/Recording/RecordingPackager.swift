import Foundation
import MediaFormats
import NIOCore

/// Turns a broadcast's deliveries into the bytes of a recording: fragmented MP4 files (an init segment, then one
/// `prft`+`moof`+`mdat` per video frame carrying the audio before it) and the index of their segments.
///
/// A struct with no I/O and no clock reads (deliveries in, actions out); ``RecordingSubscriber`` performs the actions
/// on its writer thread. Because every fragment is complete in itself, a file cut off anywhere (a `kill -9`, a full
/// disk) plays up to its last whole fragment.
///
/// Rules:
/// - a file starts with the first configuration and again whenever the codecs change (a new `moov` cannot follow
///   fragments in the same file); the first segment of a later file follows a discontinuity;
/// - nothing is written before the first video keyframe (any audio frame of an audio-only stream);
/// - a segment closes at the first keyframe at least `segmentTarget` seconds after its start, and at an interruption,
///   a timestamp jump, a skip (``skipped()``) or the end; the segment after an interruption, jump or skip is marked
///   as following a discontinuity;
/// - audio is held for the next video frame (at most ``maximumPendingAudio`` frames, then written on its own), and
///   audio held at a segment cut stays in the segment it came in.
public struct RecordingPackager: Sendable {
    public enum Action: Sendable, Equatable {
        /// Open a new media file (after closing the current one) and write `initSegment` as its first bytes.
        case startFile(name: String, initSegment: ByteBuffer)
        /// Append to the current file.
        case append(ByteBuffer)
        /// A segment is complete: its bytes were in the `append`s before this action.
        case segment(RecordedSegment)
    }

    struct OpenSegment: Sendable {
        var offset: Int
        var start: Int64
        var discontinuity: Bool
    }

    /// Audio frames held for the next video frame before they are written on their own (a stalled video track).
    static let maximumPendingAudio = 16

    public let segmentTarget: Int64
    private var muxer: CMAFMuxer?
    private var clock: StreamClock?
    private var fileNumber = -1
    private var fileName = ""
    private var initLength = 0
    private var fileLength = 0
    private var open: OpenSegment?
    private var pendingAudio: [MediaFrame] = []
    /// Where the last frame written ends (its decode time plus its duration), 90 kHz.
    private var lastEnd: Int64?
    private var discontinuityPending = false
    public private(set) var ended = false

    /// - Parameter segmentTarget: seconds; a segment closes at the first keyframe after it.
    public init(segmentTarget: Double) {
        self.segmentTarget = Int64(max(0.5, segmentTarget) * Double(StreamClock.timescale))
    }

    /// The name of the `n`th media file of a recording.
    public static func fileName(_ number: Int) -> String { "media\(number).mp4" }

    public mutating func receive(_ delivery: BroadcastDelivery) -> [Action] {
        guard !ended else { return [] }
        switch delivery {
        case let .configure(video, audio, clock):
            self.clock = clock
            if let muxer, muxer.video == video, muxer.audio == audio { return [] }
            var actions = close()
            let muxer = CMAFMuxer(video: video, audio: audio)
            self.muxer = muxer
            fileNumber += 1
            fileName = Self.fileName(fileNumber)
            initLength = muxer.initSegment.readableBytes
            fileLength = initLength
            if fileNumber > 0 { discontinuityPending = true }
            actions.append(.startFile(name: fileName, initSegment: muxer.initSegment))
            return actions
        case let .frame(frame, afterJump):
            var actions: [Action] = []
            if afterJump {
                actions = close()
                discontinuityPending = true
            }
            return actions + append(frame)
        case .interrupt:
            discontinuityPending = true
            return close()
        case .end:
            ended = true
            return close()
        }
    }

    /// The broadcast withheld frames from this recorder (its queue was full) until the next keyframe: what is open
    /// closes, and the next segment follows a discontinuity.
    public mutating func skipped() -> [Action] {
        guard !ended else { return [] }
        discontinuityPending = true
        return close()
    }

    /// Closes the open segment where its last frame ends (the broadcast ended or the recording stops).
    public mutating func finish() -> [Action] {
        guard !ended else { return [] }
        ended = true
        return close()
    }

    private mutating func append(_ frame: MediaFrame) -> [Action] {
        guard let muxer else { return [] }
        let audioOnly = muxer.video == nil
        var actions: [Action] = []
        switch frame.track {
        case .audio:
            guard muxer.audio != nil else { return [] }
            if audioOnly {
                if let open, frame.dts - open.start >= segmentTarget {
                    actions += flushAudio()
                    actions += closeSegment(at: frame.dts)
                }
                if open == nil { openSegment(at: frame.dts) }
            } else if open == nil {
                return []  // before the first keyframe
            }
            pendingAudio.append(frame)
            if pendingAudio.count >= Self.maximumPendingAudio { actions += flushAudio() }
        case .video:
            guard !audioOnly else { return [] }
            if frame.isKeyframe, open.map({ frame.dts - $0.start >= segmentTarget }) ?? true {
                actions += flushAudio()
                actions += closeSegment(at: frame.dts)
                pendingAudio.removeAll()
                openSegment(at: frame.dts)
            }
            guard open != nil else { return [] }
            actions.append(write(video: frame, audio: pendingAudio))
            pendingAudio.removeAll(keepingCapacity: true)
            lastEnd = max(lastEnd ?? frame.dts, frame.dts + muxer.estimatedFrameDuration)
        }
        return actions
    }

    private mutating func openSegment(at start: Int64) {
        open = OpenSegment(offset: fileLength, start: start, discontinuity: discontinuityPending)
        discontinuityPending = false
    }

    /// Held audio written on its own, into the open segment.
    private mutating func flushAudio() -> [Action] {
        guard open != nil, !pendingAudio.isEmpty, let audio = muxer?.audio else {
            pendingAudio.removeAll()
            return []
        }
        let rate = Int64(max(1, audio.samplingFrequency))
        let frames = pendingAudio
        pendingAudio.removeAll(keepingCapacity: true)
        if let last = frames.last {
            lastEnd = max(lastEnd ?? last.dts, last.dts + CMAFMuxer.aacFrameSamples * StreamClock.timescale / rate)
        }
        return [write(video: nil, audio: frames)]
    }

    private mutating func write(video: MediaFrame?, audio: [MediaFrame]) -> Action {
        guard var muxer = self.muxer else { return .append(ByteBuffer()) }
        self.muxer = nil
        let bytes = muxer.chunk(video: video, audio: audio, clock: clock)
        self.muxer = muxer
        fileLength += bytes.readableBytes
        return .append(bytes)
    }

    /// Completes the open segment at `end` (90 kHz).
    private mutating func closeSegment(at end: Int64) -> [Action] {
        guard let segment = open else { return [] }
        open = nil
        let length = fileLength - segment.offset
        guard length > 0 else { return [] }
        let ticks = Double(StreamClock.timescale)
        let date = clock?.wallClock(atMediaTime: segment.start).timeIntervalSince1970 ?? 0
        return [.segment(RecordedSegment(
            file: fileName, initLength: initLength, offset: segment.offset, length: length,
            mediaTime: Double(segment.start) / ticks, duration: Double(max(1, end - segment.start)) / ticks,
            programDate: (date * 1000).rounded(), discontinuity: segment.discontinuity))]
    }

    /// Writes held audio and closes the open segment where its last frame ends.
    private mutating func close() -> [Action] {
        guard let segment = open else {
            pendingAudio.removeAll()
            return []
        }
        let actions = flushAudio()
        return actions + closeSegment(at: max(lastEnd ?? segment.start, segment.start + 1))
    }
}
