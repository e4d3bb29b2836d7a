import MediaFormats

/// Places a publisher's frames on a broadcast's media timeline (90 kHz), so that nothing the publisher writes in its
/// timestamps can move the timeline backwards or throw it far ahead.
///
/// - The first frame of a publisher is anchored where the stream clock says "now", never behind what is already on
///   the timeline (a reconnecting publisher continues after its previous frames).
/// - A jump of one track's timestamps by more than `jumpThreshold` either way (an encoder restart, a wrap, a forged
///   value) is taken out: that track continues one frame after its last frame, and the jump is reported so the
///   packager starts a new segment after `EXT-X-DISCONTINUITY`. The timeline itself keeps going, with no gap.
/// - A video frame that goes backwards on its track by less than that is dropped: fMP4 decode times only increase.
///   An audio frame that does is kept, one tick after the last (an encoder's jittery audio timestamps): the muxer
///   writes audio back to back by counting samples, so its content matters and its timestamp hardly does.
/// - A publisher that falls behind real time is followed (``ArrivalDrift``): when its frames have all arrived late
///   for a while, the timeline moves forward at a video keyframe by that lag, so the stream clock says when the media
///   arrived and cues stamped "now" do not wait for media that comes later and later.
///
/// A value with no clock: the caller passes the stream clock's media time of the moment the frame arrived.
public struct MediaTimeline: Sendable {
    public enum Placement: Sendable {
        /// The frame on the timeline; `afterJump` when its track was re-anchored because its timestamps jumped.
        case placed(MediaFrame, afterJump: Bool)
        /// Backwards on its track, or before the timeline's start.
        case dropped
    }

    struct Track: Sendable {
        var offset: Int64
        var lastDTS: Int64?
    }

    public let jumpThreshold: Int64
    private var drift = ArrivalDrift()
    /// How far the timeline has moved forward to follow a publisher behind real time, in total (90 kHz).
    public private(set) var driftCorrection: Int64 = 0
    private var needsAnchor = true
    private var baseOffset: Int64 = 0
    private var tracks: [MediaFrame.Track: Track] = [:]
    /// The latest decode time placed, on any track, across publishers.
    public private(set) var lastDTS: Int64?

    /// - Parameter jumpThreshold: in seconds.
    public init(jumpThreshold: Double) {
        self.jumpThreshold = Int64(max(0.1, jumpThreshold) * Double(StreamClock.timescale))
    }

    /// Frames placed elsewhere (a relayed broadcast's) reached `dts`: the next publisher's first frame is anchored after it.
    public mutating func continueAfter(_ dts: Int64) {
        lastDTS = max(lastDTS ?? dts, dts)
        reanchor()
    }

    /// The publisher changed (a reconnect): its first frame is anchored afresh.
    public mutating func reanchor() {
        needsAnchor = true
        drift.reset()
    }

    /// - Parameters:
    ///   - now: the stream clock's media time when the frame arrived.
    ///   - frameDuration: the step a re-anchored track takes after its last frame (the muxer's estimate).
    public mutating func place(_ frame: MediaFrame, now: Int64, frameDuration: Int64) -> Placement {
        if needsAnchor {
            var start = now
            if let lastDTS { start = max(start, lastDTS + 1) }
            baseOffset = start - frame.dts
            tracks = [:]
            needsAnchor = false
        }
        var track = tracks[frame.track] ?? Track(offset: baseOffset, lastDTS: nil)
        var jumped = false
        var dts = frame.dts &+ track.offset
        if let last = track.lastDTS {
            let delta = dts &- last
            if delta > jumpThreshold || delta < -jumpThreshold {
                let step = max(1, frameDuration)
                track.offset = last + step - frame.dts
                dts = last + step
                jumped = true
            } else if delta < 0 {
                guard frame.track == .audio else { return .dropped }
                dts = last + 1
            }
        }
        guard dts >= 0 else { return .dropped }
        // The arrival lag of video frames (of audio ones while there is no video) decides whether the timeline
        // follows a publisher that fell behind real time; it moves at a keyframe, every track by the same amount.
        let timed = frame.track == .video || tracks[.video] == nil
        if timed, !jumped {
            let forward = drift.observe(dts: dts, arrival: now, canJump: frame.track == .audio || frame.isKeyframe)
            if forward > 0 {
                driftCorrection += forward
                baseOffset += forward
                for key in tracks.keys { tracks[key]?.offset += forward }
                track.offset += forward
                dts += forward
            }
        }
        var mapped = frame
        mapped.dts = dts
        // The composition offset is the publisher's and stays as sent, within what a frame may carry.
        mapped.pts = dts + min(max(frame.pts &- frame.dts, -jumpThreshold), jumpThreshold)
        track.lastDTS = dts
        tracks[frame.track] = track
        lastDTS = max(lastDTS ?? dts, dts)
        return .placed(mapped, afterJump: jumped)
    }
}
