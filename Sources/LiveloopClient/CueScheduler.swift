import Foundation
import Interaction

/// When each room message should be shown, given the program date of the frame on screen (docs/sync.md §4): a host
/// action broadcast with `cue: {at, mediaTime}` is shown only once the playhead's program date reaches `cue.at`, never
/// before; host actions keep the room's order (one behind a pending cue waits for it, even without a cue of its own),
/// so what is on screen never goes backwards. Everything else — chat, reactions, counts, replies — passes at once.
/// The same rule as the web player's `cues.js`.
///
/// A pure value: the playhead is passed in, nothing reads a clock, so a test drives an hour of cues in microseconds.
/// Feed every envelope to `take(_:playhead:)` in arrival order and show what it returns; while `pending` is not
/// empty, call `release(playhead:)` again within `wait(playhead:)`.
///
/// Bounded: at most `capacity` messages wait (a paused player holds the queue); past that the oldest is shown anyway.
/// A `hello` with a fresh snapshot empties the queue, since the snapshot already holds every earlier broadcast.
public struct CueScheduler: Sendable {
    /// The message kinds that follow the timeline: host actions the video shows (`poll`, `results`, `quiz`,
    /// `leaderboard`, `standing`, `offer`, `offer.hidden`).
    public static let timelineKinds: Set<ServerMessage.Kind> = [.poll, .results, .quiz, .leaderboard, .standing, .offer, .offerHidden]

    /// The most messages held at once.
    public let capacity: Int
    /// The messages held, oldest first; the first one always carries a cue.
    public private(set) var pending: [ServerEnvelope] = []

    public init(capacity: Int = 1024) {
        self.capacity = max(1, capacity)
    }

    /// The program date the first held message waits for, or nil when nothing is held.
    public var nextCueAt: Timestamp? { pending.first?.cue?.at }

    /// Takes a message as it arrives; returns the messages to show now, in order (`envelope` among them unless it must
    /// wait). `playhead`: the program date on screen, nil while no video plays (every cue then waits).
    public mutating func take(_ envelope: ServerEnvelope, playhead: Date?) -> [ServerEnvelope] {
        if case .hello(let hello) = envelope.message, !hello.recovered { pending.removeAll() }
        guard Self.timelineKinds.contains(envelope.message.kind) else { return [envelope] }
        if envelope.cue == nil && pending.isEmpty { return [envelope] }
        pending.append(envelope)
        var shown: [ServerEnvelope] = []
        while pending.count > capacity { shown.append(pending.removeFirst()) }
        return shown + release(playhead: playhead)
    }

    /// The held messages whose time has come at `playhead`, in order; they leave the queue.
    public mutating func release(playhead: Date?) -> [ServerEnvelope] {
        var due = 0
        for envelope in pending {
            if let cue = envelope.cue {
                guard let playhead, Self.reached(cue.at, at: playhead) else { break }
            }
            due += 1
        }
        let shown = Array(pending.prefix(due))
        pending.removeFirst(due)
        return shown
    }

    /// How long until the first held message is due, for a playhead that advances in real time from `playhead`; nil
    /// when nothing is held or no video plays (check again when the playhead moves).
    public func wait(playhead: Date?) -> Duration? {
        guard let at = nextCueAt, let playhead else { return nil }
        let milliseconds = Double(at.unixMilliseconds) - playhead.timeIntervalSince1970 * 1000
        return .milliseconds(max(0, milliseconds.rounded(.up)))
    }

    /// Drops every held message (the app rebuilt its state from somewhere else).
    public mutating func reset() {
        pending.removeAll()
    }

    /// Whether the playhead's program date has reached `at` (whole milliseconds, as cues are stamped).
    static func reached(_ at: Timestamp, at playhead: Date) -> Bool {
        playhead.timeIntervalSince1970 * 1000 >= Double(at.unixMilliseconds)
    }
}
