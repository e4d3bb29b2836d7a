import Foundation
import Interaction
import Synchronization

/// The shell around a `CueScheduler` for a live client: takes each envelope as it arrives, shows what is due at
/// once, and while something is held wakes when the next cue is due — at most `longestWait` later, since the player
/// may pause, seek or stall — to read the playhead again. No task runs while nothing is held.
final class PlayheadGate: Sendable {
    /// The longest sleep between two readings of the playhead while a message is held.
    static let longestWait: Duration = .milliseconds(250)

    private struct State {
        var scheduler: CueScheduler
        var timer: Task<Void, Never>?
        /// Where the video is; until it is set every cued message waits.
        var playhead: (@Sendable () -> Date?)?
    }

    private let state: Mutex<State>
    private let show: @Sendable (ServerEnvelope) -> Void

    /// `show` is called in order, under the gate's lock: it must only hand the envelope on.
    init(capacity: Int, show: @escaping @Sendable (ServerEnvelope) -> Void) {
        state = Mutex(State(scheduler: CueScheduler(capacity: capacity)))
        self.show = show
    }

    /// Sets where the playhead is read from (the app's `playhead`, or the server clock minus a latency).
    func setPlayhead(_ playhead: @escaping @Sendable () -> Date?) {
        state.withLock { $0.playhead = playhead }
    }

    /// The program date on screen now; read outside the gate's lock (the closure may take the client's).
    private func readPlayhead() -> Date? {
        state.withLock { $0.playhead }?()
    }

    func take(_ envelope: ServerEnvelope) {
        let now = readPlayhead()
        state.withLock { state in
            for due in state.scheduler.take(envelope, playhead: now) { show(due) }
            guard !state.scheduler.pending.isEmpty, state.timer == nil else { return }
            state.timer = Task { [weak self] in await self?.watch() }
        }
    }

    /// Releases held messages as the playhead reaches them; ends when nothing is held.
    private func watch() async {
        while !Task.isCancelled {
            let before = readPlayhead()
            let wait = state.withLock { $0.scheduler.wait(playhead: before) } ?? Self.longestWait
            try? await Task.sleep(for: min(max(wait, .milliseconds(2)), Self.longestWait))
            let now = readPlayhead()
            let done = state.withLock { state in
                for due in state.scheduler.release(playhead: now) { show(due) }
                if state.scheduler.pending.isEmpty { state.timer = nil }
                return state.timer == nil
            }
            if done { return }
        }
    }

    /// Stops watching; what is held stays held.
    func cancel() {
        state.withLock { $0.timer?.cancel() }
    }
}
