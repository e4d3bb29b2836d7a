import Foundation

/// Maps a broadcast's media time (90 kHz) to wall-clock time (the server's clock at ingest).
///
/// It is anchored once, at the first frame of a broadcast, and never moved: a publisher that reconnects is placed on
/// the same line (its media time restarts where the wall clock says it is), so `EXT-X-PROGRAM-DATE-TIME`, `prft` and
/// interaction cues all agree across the reconnect.
public struct StreamClock: Sendable, Equatable {
    public static let timescale: Int64 = 90_000

    public let anchorMediaTime: Int64
    public let anchorWallClock: Date

    public init(anchorMediaTime: Int64, anchorWallClock: Date) {
        self.anchorMediaTime = anchorMediaTime
        self.anchorWallClock = anchorWallClock
    }

    public func wallClock(atMediaTime mediaTime: Int64) -> Date {
        anchorWallClock.addingTimeInterval(Double(mediaTime - anchorMediaTime) / Double(Self.timescale))
    }

    public func mediaTime(at date: Date) -> Int64 {
        anchorMediaTime + Int64((date.timeIntervalSince(anchorWallClock) * Double(Self.timescale)).rounded())
    }
}
