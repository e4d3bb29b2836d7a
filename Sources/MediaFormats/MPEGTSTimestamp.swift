/// Turns 33-bit 90 kHz PES timestamps (ISO/IEC 13818-1 §2.4.3.7) into one ever-increasing 64-bit timeline: each value
/// is placed in the 2³³ period closest to the previous one, so a stream that runs past 26.5 hours (or starts just
/// before the wrap) keeps counting up instead of jumping back.
public struct MPEGTSTimestampUnwrapper: Sendable {
    public static let period: Int64 = 1 << 33
    private var last: Int64?

    public init() {}

    public mutating func unwrap(_ raw: Int64) -> Int64 {
        let value = raw & (Self.period - 1)
        guard let last else {
            self.last = value
            return value
        }
        let base = last - (last & (Self.period - 1))
        var best = base + value
        for candidate in [best - Self.period, best + Self.period] where abs(candidate - last) < abs(best - last) {
            best = candidate
        }
        self.last = best
        return best
    }
}
