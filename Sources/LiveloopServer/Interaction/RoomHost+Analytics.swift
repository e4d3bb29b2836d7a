import Foundation
import Interaction
import Synchronization

extension RoomHost {
    /// Applies an analytics change to the room (a broadcast's start or end) and waits, at most `wait`, until its
    /// records are committed: they go through the same pipeline, in the room's order, as every other record.
    func record(wait: Duration, _ body: @Sendable (inout Room) -> RoomUpdate) async {
        let done = OnceSignal()
        core.record(body) { _ in done.signal() }
        wakeup.yield()
        await done.wait(upTo: wait)
    }
}

/// A signal that one side raises once and the other awaits with a time limit, whichever comes first.
final class OnceSignal: Sendable {
    private let state = Mutex<(raised: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.raised = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    func wait(upTo limit: Duration) async {
        let timer = Task { [self] in
            try? await Task.sleep(for: limit)
            signal()
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let raised = state.withLock { state -> Bool in
                if state.raised { return true }
                state.waiter = continuation
                return false
            }
            if raised { continuation.resume() }
        }
        timer.cancel()
    }
}
