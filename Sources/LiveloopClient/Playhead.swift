import Foundation
import Synchronization

/// One reading of a video player's playhead: the program date of the frame on screen (`AVPlayerItem.currentDate()`,
/// an HLS.js `playingDate`, `EXT-X-PROGRAM-DATE-TIME` plus the time into the segment) and the playback rate, taken
/// at a monotonic instant. Between readings the playhead moves at `rate`, so a reading a few hundred milliseconds old
/// still says where the video is.
public struct PlayheadReading: Sendable, Hashable {
    public var programDate: Date
    /// 1 while playing, 0 while paused or stalled (`AVPlayer.rate`).
    public var rate: Double
    public var takenAt: ContinuousClock.Instant

    public init(programDate: Date, rate: Double, takenAt: ContinuousClock.Instant) {
        self.programDate = programDate
        self.rate = rate
        self.takenAt = takenAt
    }

    /// The program date on screen at `instant`, extrapolated at `rate`.
    public func programDate(at instant: ContinuousClock.Instant) -> Date {
        let elapsed = (instant - takenAt).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        return programDate.addingTimeInterval(seconds * max(0, rate))
    }
}

/// A playhead the app updates from its player and the SDK reads from any thread: set
/// `configuration.playhead = { playhead.programDate() }` and call `update` from the player's periodic time observer
/// (every 250–500 ms is plenty; the reading is extrapolated in between).
///
/// ```swift
/// let playhead = Playhead()
/// player.addPeriodicTimeObserver(forInterval: CMTime(value: 1, timescale: 4), queue: .main) { _ in
///     playhead.update(programDate: player.currentItem?.currentDate(), rate: Double(player.rate))
/// }
/// ```
public final class Playhead: Sendable {
    private let reading = Mutex<PlayheadReading?>(nil)

    public init() {}

    /// Records where the player is; nil while it shows nothing (not started, or no program date in the stream).
    public func update(programDate: Date?, rate: Double = 1, at instant: ContinuousClock.Instant = .now) {
        reading.withLock { $0 = programDate.map { PlayheadReading(programDate: $0, rate: rate, takenAt: instant) } }
    }

    /// The program date on screen at `instant`, or nil before the first reading.
    public func programDate(at instant: ContinuousClock.Instant = .now) -> Date? {
        reading.withLock { $0 }?.programDate(at: instant)
    }
}
