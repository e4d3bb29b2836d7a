import Foundation

/// The broadcasts of a channel from its log: each `broadcastStarted` opens one, its `broadcastEnded` closes it. One
/// whose end was never recorded (the server stopped without a graceful shutdown) ended at its last viewer sample,
/// unless it is the broadcast live now.
///
/// Only lifecycle records and viewer samples matter here, so the store may hand over just those.
public enum BroadcastIndex {
    /// The broadcasts, oldest first. `liveID`: the broadcast in progress now, if any (its `endedAt` is nil).
    public static func summaries(_ records: some Sequence<Record>, liveID: String?, now: Timestamp) -> [BroadcastSummary] {
        var done: [BroadcastSummary] = []
        var open: (id: String, startedAt: Timestamp, lastAt: Timestamp, peak: Int)?
        func close(at end: Timestamp?) {
            guard let current = open else { return }
            let isLive = end == nil && current.id == liveID
            let until = max(isLive ? now : (end ?? current.lastAt), current.startedAt)
            done.append(BroadcastSummary(id: current.id, startedAt: current.startedAt.date, endedAt: isLive ? nil : until.date,
                                         durationSeconds: Double(current.startedAt.duration(to: until).wholeMilliseconds) / 1000,
                                         peakViewers: current.peak))
            open = nil
        }
        for record in records {
            switch record {
            case .broadcastStarted(let id, let at):
                close(at: nil)
                open = (id, at, at, 0)
            case .broadcastEnded(let id, let at):
                if open?.id == id { close(at: at) }
            case .viewerSample(let count, let at):
                if var current = open {
                    current.peak = max(current.peak, count)
                    current.lastAt = at
                    open = current
                }
            default:
                break
            }
        }
        close(at: nil)
        return done
    }
}
