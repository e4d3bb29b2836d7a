/// What the server knows about a request beyond the message itself.
public struct RequestTiming: Sendable, Hashable {
    /// The largest display latency the server can verify for this viewer (e.g. from their measured playback delay);
    /// a quiz answer's claimed display time is clamped to it (and to `RoomConfiguration.maxDisplayLatency`). Zero: the
    /// answer is timed from when the question went out.
    public var maxDisplayLatency: Duration

    public init(maxDisplayLatency: Duration = .zero) {
        self.maxDisplayLatency = maxDisplayLatency
    }
}
