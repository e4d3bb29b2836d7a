import Foundation
import MediaFormats
import NIOCore
import Synchronization

/// One rung of a channel's ladder: the MPEG-TS a transcoder writes for it, packaged as another LL-HLS rendition of the
/// same broadcast.
///
/// The transcoder keeps the source's timestamps (its output is on the broadcast's timeline) and makes a keyframe at
/// every source keyframe, so each segment of this rendition starts where the source's segment of the same number
/// starts: the first segment takes the number of the source segment that starts at its keyframe (frames before such a
/// keyframe are dropped), and from then on both packagers cut at the same keyframes. After a transcoder restart the
/// numbers skipped meanwhile become `EXT-X-GAP` segments, so the numbering never drifts from the source's.
///
/// Fed from one reader thread at a time; its state is behind its own lock, the packager behind the rendition's.
public final class TranscodedRendition: Sendable {
    public let preset: RenditionPreset
    let hls: HLSRendition
    private let source: HLSRendition

    struct State {
        var ingest = MPEGTSIngest(rebasing: false)
        var video: AVCDecoderConfiguration?
        var audio: AudioSpecificConfig?
        /// What the rendition was last configured with.
        var announced: (video: AVCDecoderConfiguration?, audio: AudioSpecificConfig?)?
        /// The next segment's number is the source's: set at the first keyframe that starts a source segment.
        var aligned = false
        var stats = IngestStats()
        var ended = false
    }

    private let state = Mutex(State())

    init(preset: RenditionPreset, source: HLSRendition, configuration: HLSConfiguration, startedAt: Date) {
        self.preset = preset
        self.source = source
        hls = HLSRendition(configuration: configuration, startedAt: startedAt)
    }

    /// What to do with the rendition once this type's lock is released, in order.
    enum Step {
        case deliver(BroadcastDelivery)
        /// The next segment takes this number (gaps for the numbers skipped, from the source's `slots`).
        case number(Int, slots: [Segment])
    }

    /// Transport stream bytes from the transcoder. Throws when they are not MPEG-TS at all.
    public func feed(_ bytes: some Collection<UInt8>, now: Date = Date()) throws(MPEGTSError) {
        var failure: MPEGTSError?
        let steps = state.withLock { state -> [Step] in
            guard !state.ended else { return [] }
            let events: [IngestEvent]
            do throws(MPEGTSError) {
                events = try state.ingest.feed(bytes)
            } catch {
                failure = error
                return []
            }
            return plan(for: events, state: &state, now: now)
        }
        // The rendition's own lock is taken after ours is released.
        for step in steps {
            switch step {
            case let .deliver(delivery): _ = hls.receive(delivery)
            case let .number(msn, slots): _ = hls.update { $0.numberNextSegment(msn, slots: slots) }
            }
        }
        if let failure { throw failure }
    }

    /// The transcoder stopped (it exited or is being restarted, `restarted`: its next output is a new transport stream)
    /// or the publisher went away: what is open closes, and the next output starts a new segment after a
    /// discontinuity, numbered as the source's again.
    public func interrupt(restarted: Bool) {
        let ended = state.withLock { state -> Bool in
            if restarted { state.ingest = MPEGTSIngest(rebasing: false) }
            state.aligned = false
            return state.ended
        }
        if !ended { _ = hls.receive(.interrupt) }
    }

    /// The broadcast ended, or the rendition left the ladder: the playlist gets `EXT-X-ENDLIST`.
    func end() {
        let wasEnded = state.withLock { state in
            defer { state.ended = true }
            return state.ended
        }
        if !wasEnded { _ = hls.receive(.end) }
    }

    public var stats: IngestStats { state.withLock { $0.stats } }

    private func plan(for events: [IngestEvent], state: inout State, now: Date) -> [Step] {
        var out: [Step] = []
        for event in events {
            switch event {
            case let .videoConfiguration(record):
                state.video = try? AVCDecoderConfiguration(record: record)
            case let .audioConfiguration(bytes):
                state.audio = try? AudioSpecificConfig(bytes: bytes)
            case .metadata:
                break
            case let .frame(frame):
                state.stats.record(frame, at: now)
                let keyframe = frame.track == .video && frame.isKeyframe
                var number: Step?
                if !state.aligned {
                    guard keyframe, let found = sourceSegment(at: frame) else { continue }
                    number = .number(found.msn, slots: found.slots)
                    state.aligned = true
                }
                if keyframe, state.announced.map({ $0.video != state.video || $0.audio != state.audio }) ?? true {
                    guard let clock = source.read(\.clock) else { continue }
                    state.announced = (state.video, state.audio)
                    out.append(.deliver(.configure(video: state.video, audio: state.audio, clock: clock)))
                }
                guard state.announced != nil else { continue }
                if let number { out.append(number) }
                out.append(.deliver(.frame(frame, afterJump: false)))
            }
        }
        return out
    }

    /// Within this of a source segment's first frame (90 kHz, 10 ms), a keyframe starts the same segment: the
    /// transcoder keeps timestamps to the millisecond, and frames are tens of milliseconds apart.
    static let alignmentTolerance: Int64 = 900

    /// The source segment whose first frame is shown when this keyframe is, with the source's segments for the gap
    /// slots; nil when none is.
    private func sourceSegment(at frame: MediaFrame) -> (msn: Int, slots: [Segment])? {
        source.read { packager -> (msn: Int, slots: [Segment])? in
            var candidates = Array(packager.segments)
            if let open = packager.openSegment { candidates.append(open) }
            guard let match = candidates.min(by: { abs($0.presentationStart - frame.pts) < abs($1.presentationStart - frame.pts) }),
                  abs(match.presentationStart - frame.pts) <= Self.alignmentTolerance else { return nil }
            // Only what the gap segments need: numbers, times and durations.
            let slots = candidates.map { segment -> Segment in
                var slot = segment
                slot.parts = []
                return slot
            }
            return (match.sequenceNumber, slots)
        } ?? nil
    }
}
