/// Multistream settings (`liveloop serve --max-destinations`, `--destination-allow-private`, `--destination-ca-file`;
/// docs/multistream.md).
public struct MultistreamConfiguration: Sendable {
    /// Destinations one channel may have.
    public var maxPerChannel = 5
    /// Push to loopback and private-network addresses too (off: such destinations are refused, as webhooks are; see
    /// ``DestinationURL``).
    public var allowPrivateAddresses = false
    /// Reconnects after a failure: exponential from 1 s, doubling, at most 60 s, ±20 %, for as long as the channel is
    /// live (`maxAttempts` is not used). A connection that stayed up ``stableAfter`` starts again from `base`.
    public var retry = WebhookRetryPolicy(maxAttempts: .max, base: .seconds(1), cap: .seconds(60), jitter: 0.2)
    /// How long a connection must have carried media before a failure counts as a first one again.
    public var stableAfter: Duration = .seconds(30)
    /// Connect, TLS and RTMP handshakes, and `publish` answered: all within this.
    public var connectTimeout: Duration = .seconds(10)
    /// A write the destination does not take within this closes the connection (a stalled peer), and the relay retries.
    public var stallTimeout: Duration = .seconds(10)
    /// Deliveries waiting to be sent to one destination, and their bytes; past either, the relay skips to the next
    /// keyframe (it loses a stretch of media, never its decoder's footing) and nobody else waits.
    public var queueLimit = 512
    public var queueByteLimit = 16 * 1024 * 1024
    /// A PEM file of certificate authorities RTMPS destinations are checked against, instead of the system's.
    public var trustedCAFile: String?

    public init() {}
}
