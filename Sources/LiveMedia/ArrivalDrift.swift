import DequeModule

/// How far behind the stream clock a publisher's frames arrive, and when the timeline should move forward so that the
/// clock follows the media as it arrives.
///
/// A frame's *lag* is the stream clock's media time when it arrived minus its decode time on the timeline. The first
/// frame of a publisher is anchored at lag 0. A publisher that produces less than real time (an overloaded encoder,
/// `ffmpeg -readrate 0.8`) sends frames whose lag grows without end: cues stamped "now" wait for media that arrives
/// later and later, and every viewer measures the publisher's delay as their own latency. So when every frame for
/// `window` has arrived more than `threshold` late, the timeline moves forward — at a video keyframe, where a decoder
/// (and MSE, which drops frames after a gap until the next random access point) can take a gap — by the smallest lag
/// seen in the last `window`: a short gap a player jumps, after which media lies where the clock says it arrived.
///
/// A late burst is not a drift: after a publisher's network hiccup the frames it held arrive at once, the last of them
/// on time, and the run of late frames ends before `window` has passed. Frames that arrive early (a publisher faster
/// than real time) are never pulled back, since decode times only increase. Times are 90 kHz ticks, passed in.
struct ArrivalDrift: Sendable {
    struct Sample: Sendable {
        var arrival: Int64
        var lag: Int64
    }

    let threshold: Int64
    let window: Int64
    /// Arrival of the first frame of the current run of late frames (lag over `threshold`); nil when the last was not late.
    private var lateSince: Int64?
    /// The last `window` of samples, lags increasing from the front (a monotonic queue): the front is the minimum.
    private var minimums = Deque<Sample>()

    /// Most samples the queue holds, whatever the frame rate a publisher claims.
    static let capacity = 1024

    /// - Parameters: in seconds.
    init(threshold: Double = 0.15, window: Double = 0.5) {
        self.threshold = Int64(threshold * Double(StreamClock.timescale))
        self.window = Int64(window * Double(StreamClock.timescale))
    }

    /// Forgets what was seen (a new publisher is anchored afresh).
    mutating func reset() {
        lateSince = nil
        minimums.removeAll()
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
        while let last = minimums.last, last.lag >= lag { minimums.removeLast() }
        minimums.append(Sample(arrival: arrival, lag: lag))
        while let first = minimums.first, first.arrival < arrival - window || minimums.count > Self.capacity { minimums.removeFirst() }
        guard canJump, let lateSince, arrival - lateSince >= window, let smallest = minimums.first?.lag, smallest > threshold else {
            return 0
        }
        reset()
        return smallest
    }
}
