import DequeModule

/// How far behind the stream clock a publisher's frames arrive, and when the timeline should move forward so that the
/// clock follows the media as it arrives.
///
/// A frame's *lag* is the stream clock's media time when it arrived minus its decode time on the timeline. The first
/// frame of a publisher is anchored at lag 0. A publisher that produces less than real time (an overloaded encoder,
/// `ffmpeg -readrate 0.8`) sends frames whose lag grows without end: cues stamped "now" wait for media that arrives
/// later and later, and every viewer measures the publisher's delay as their own latency. So when every frame for
/// `window` has arrived more than `threshold` late, and the lag is not shrinking, the timeline moves forward — at a
/// video keyframe, where a decoder (and MSE, which drops frames after a gap until the next random access point) can
/// take a gap — by the smallest lag of the frames that arrived in the last `recent` seconds (not the keyframe's own: a
/// keyframe is large and arrives late by its size): a short gap a player jumps, after which media lies where the clock
/// says it arrived.
///
/// What is not a drift, and moves nothing: a late burst (after a publisher's network hiccup the frames it held arrive
/// at once, the last of them on time, and the run of late frames ends before `window` has passed), and a backlog
/// draining (a congested link or a busy server catching up: the lag falls, and moving the timeline by it would leave
/// the media ahead of the clock once the backlog is gone). Frames that arrive early (a publisher faster than real
/// time) are never pulled back, since decode times only increase. Times are 90 kHz ticks, passed in.
struct ArrivalDrift: Sendable {
    struct Sample: Sendable {
        var arrival: Int64
        var lag: Int64
    }

    let threshold: Int64
    let window: Int64
    let recent: Int64
    /// Arrival of the first frame of the current run of late frames (lag over `threshold`); nil when the last was not late.
    private var lateSince: Int64?
    /// The samples of the last `window`, oldest first.
    private var samples = Deque<Sample>()

    /// Most samples kept, whatever the frame rate a publisher claims.
    static let capacity = 256
    /// How much the lag may fall across the window and still count as not shrinking (arrival jitter).
    static let tolerance: Int64 = 900

    /// - Parameters: in seconds.
    init(threshold: Double = 0.15, window: Double = 1, recent: Double = 0.25) {
        self.threshold = Int64(threshold * Double(StreamClock.timescale))
        self.window = Int64(window * Double(StreamClock.timescale))
        self.recent = Int64(min(recent, window / 2) * Double(StreamClock.timescale))
    }

    /// Forgets what was seen (a new publisher is anchored afresh).
    mutating func reset() {
        lateSince = nil
        samples.removeAll()
    }

    /// Notes a frame placed at `dts` that arrived at media time `arrival`. Returns how far to move the timeline forward
    /// before this frame (`canJump`: it is a point where a decoder can take a gap), or 0.
    mutating func observe(dts: Int64, arrival: Int64, canJump: Bool) -> Int64 {
        let lag = arrival - dts
        if lag > threshold {
            if lateSince == nil { lateSince = arrival }
        } else {
            lateSince = nil
        }
        samples.append(Sample(arrival: arrival, lag: lag))
        while let first = samples.first, first.arrival < arrival - window || samples.count > Self.capacity { samples.removeFirst() }
        guard canJump, let lateSince, arrival - lateSince >= window else { return 0 }
        // Not shrinking: the second half of the window arrived at least as late as the first.
        let middle = arrival - window / 2
        var earlier = Int64.max, later = Int64.max, latest = Int64.max
        for sample in samples {
            if sample.arrival < middle { earlier = min(earlier, sample.lag) } else { later = min(later, sample.lag) }
            if sample.arrival >= arrival - recent { latest = min(latest, sample.lag) }
        }
        guard earlier != .max, later != .max, later >= earlier - Self.tolerance, latest > threshold else { return 0 }
        reset()
        return latest
    }
}
