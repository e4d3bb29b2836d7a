/// What the server knows about a request beyond the message itself.
public struct RequestTiming: Sendable, Hashable {
    /// The largest display latency the server can verify for this viewer (e.g. from their measured playback delay);
    /// a quiz answer's claimed display time is clamped to it (and to `RoomConfiguration.maxDisplayLatency`). Zero: the
    /// answer is timed from when the question went out.
    public var maxDisplayLatency: Duration
    /// For a host action: where the broadcast was when the host took it (nil when nothing is live). The messages the
    /// action produces carry it, and so do the window ends that follow from it.
    public var cue: CueStamp?
    /// For an answer: how long it was on its way to the server (half the connection's round trip, capped by the
    /// server); the answer is timed as if it had arrived that much earlier, so distance does not cost points.
    public var transit: Duration

    public init(maxDisplayLatency: Duration = .zero, cue: CueStamp? = nil, transit: Duration = .zero) {
        self.maxDisplayLatency = maxDisplayLatency
        self.cue = cue
        self.transit = transit
    }
}
