import Foundation

/// A wall-clock instant with millisecond resolution, counted from the Unix epoch.
///
/// The interaction domain never reads a clock: every method that depends on time takes a `Timestamp`
/// from its caller, so tests can run an hour of a show in microseconds and replay is deterministic.
/// On the wire and in persisted records a timestamp is a bare JSON integer (Unix milliseconds).
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var unixMilliseconds: Int64

    public init(unixMilliseconds: Int64) {
        self.unixMilliseconds = unixMilliseconds
    }

    /// The instant of a `Date`, truncated to the millisecond.
    public init(_ date: Date) {
        self.unixMilliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// The same instant as a `Date`.
    public var date: Date { Date(timeIntervalSince1970: Double(unixMilliseconds) / 1000) }

    /// This instant moved by `duration` (rounded to the millisecond).
    public func advanced(by duration: Duration) -> Timestamp {
        Timestamp(unixMilliseconds: unixMilliseconds &+ duration.wholeMilliseconds)
    }

    /// The signed duration from this instant to `other`.
    public func duration(to other: Timestamp) -> Duration {
        .milliseconds(other.unixMilliseconds &- unixMilliseconds)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.unixMilliseconds < rhs.unixMilliseconds
    }

    public static func + (lhs: Timestamp, rhs: Duration) -> Timestamp { lhs.advanced(by: rhs) }

    public init(from decoder: any Decoder) throws {
        unixMilliseconds = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(unixMilliseconds)
    }

    public var description: String { "\(unixMilliseconds)ms" }
}

extension Duration {
    /// The duration in whole milliseconds, rounded toward zero; saturates instead of trapping.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (fromSeconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? .min : .max }
        return fromSeconds &+ attoseconds / 1_000_000_000_000_000
    }

    /// The duration in seconds as a floating-point number.
    var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
