/// What a room writes into its log for analytics while a broadcast is live, so that reports are built from the log
/// alone (docs/analytics.md): the audience size once per `RoomConfiguration.viewerSampleInterval` and at the moments
/// that need it exact (a broadcast's start and end, a poll's launch, a quiz question, an offer), and the reaction taps
/// counted since the previous sample.
///
/// Invariant: `broadcastID` is the broadcast the room is sampling for, or nil between broadcasts; `lastSampleAt` is the
/// time of the newest `viewerSample` applied. Reaction counts are memory until written: a crash loses at most one
/// interval of taps, never a vote, message or gift.
struct AudienceSampler: Sendable, Hashable, Codable {
    var broadcastID: String?
    var lastSampleAt: Timestamp?
    /// Taps counted since the last `reactionsCounted` record (only while a broadcast is live).
    var pendingReactions: [String: Int] = [:]

    /// Follows the analytics records, live and on replay.
    mutating func apply(_ record: Record) {
        switch record {
        case .broadcastStarted(let broadcastID, let at):
            self.broadcastID = broadcastID
            lastSampleAt = at
            pendingReactions.removeAll()
        case .broadcastEnded(let broadcastID, _):
            if self.broadcastID == broadcastID { self.broadcastID = nil }
            pendingReactions.removeAll()
        case .viewerSample(_, let at):
            lastSampleAt = at
        case .reactionsCounted:
            pendingReactions.removeAll()
        default:
            break
        }
    }

    /// Adds one tick's reaction counts (ignored between broadcasts).
    mutating func count(_ reactions: [String: Int]) {
        guard broadcastID != nil else { return }
        for (emoji, taps) in reactions where taps > 0 {
            pendingReactions[emoji, default: 0] &+= taps
        }
    }

    /// Whether a periodic sample is due at `now`.
    func isDue(at now: Timestamp, interval: Duration) -> Bool {
        guard broadcastID != nil else { return false }
        return lastSampleAt.map { $0.duration(to: now) >= interval } ?? true
    }
}
