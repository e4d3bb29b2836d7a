import Foundation
import Interaction

/// One NTP-style exchange with the server (RFC 5905 §8, reduced to one server stamp): the client sends `ping` at its
/// time `t0`, the server stamps `serverTime` while answering, the `pong` arrives at client time `t1`.
///
/// Assuming the two legs take equally long, the server read its clock at client time `(t0 + t1) / 2`, so
/// `offset = serverTime − (t0 + t1) / 2`, and the error of that assumption is at most half the round trip.
public struct ClockSample: Sendable, Hashable {
    /// Server clock minus client clock, in seconds.
    public var offset: Double
    /// `t1 − t0`, in seconds.
    public var roundTrip: Double
    /// When the pong arrived (client clock).
    public var receivedAt: Date

    /// The bound on the offset's error: half the round trip.
    public var uncertainty: Double { roundTrip / 2 }

    public init(offset: Double, roundTrip: Double, receivedAt: Date) {
        self.offset = offset
        self.roundTrip = roundTrip
        self.receivedAt = receivedAt
    }

    /// The sample of one exchange. `serverTime` has millisecond resolution and is truncated by the server, so the
    /// instant it stands for is, on average, half a millisecond later than its value.
    public init(sentAt t0: Date, serverTime: Timestamp, receivedAt t1: Date) {
        let start = t0.timeIntervalSince1970
        let end = max(t1.timeIntervalSince1970, start)
        let server = (Double(serverTime.unixMilliseconds) + 0.5) / 1000
        self.init(offset: server - (start + end) / 2, roundTrip: end - start, receivedAt: t1)
    }
}

/// The client's estimate of the server clock: the sample with the lowest round trip among the most recent ones.
///
/// The lowest round trip is the exchange least disturbed by queueing, hence the tightest bound (the NTP clock
/// filter's rule). Only the last `window` samples count, so the estimate follows drift when sync re-runs.
public struct ClockSync: Sendable, Hashable {
    /// How many recent samples the estimate is chosen from.
    public let window: Int
    public private(set) var samples: [ClockSample] = []

    public init(window: Int = 16) {
        self.window = max(1, window)
    }

    /// The sample the estimate is based on, or nil before the first exchange.
    public var best: ClockSample? {
        samples.min { $0.roundTrip < $1.roundTrip }
    }

    public mutating func add(_ sample: ClockSample) {
        samples.append(sample)
        if samples.count > window { samples.removeFirst(samples.count - window) }
    }
}

