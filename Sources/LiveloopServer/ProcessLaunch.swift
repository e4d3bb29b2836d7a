import Foundation
import Synchronization

/// Starts child processes (ffmpeg and friends) one at a time across the whole server.
///
/// The test process once crashed inside Foundation's `Process.run()` on Linux (a bad read while it copied the
/// child's arguments, 25 minutes into the suite) as the server started ffmpeg for a WHIP publisher while other
/// threads were starting tools of their own. Concurrent launches are the likely trigger; `run()` is not documented
/// as safe for them, so every launch here and in the tests goes through one lock. A launch takes a few milliseconds.
public enum ProcessLaunch {
    private static let lock = Mutex(())

    /// Runs `process` under the launch lock; throws what `run()` throws.
    public static func run(_ process: Process) throws {
        try lock.withLock { _ in try process.run() }
    }
}
