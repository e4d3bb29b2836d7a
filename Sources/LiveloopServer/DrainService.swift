import Interaction
import Logging
import ServiceLifecycle

/// The first service to hear of a graceful shutdown (it is the last in the group, and ServiceGroup stops services in
/// reverse): it tells every interaction client to reconnect elsewhere (`goaway`) and waits out the drain window while
/// everything still runs, so viewers move to another node before their sockets close.
struct DrainService: Service {
    let rooms: RoomRegistry
    let drain: Duration
    /// Open WebSockets now: with none, there is nobody to wait for.
    let openSockets: @Sendable () -> Int
    let logger: Logger

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: the group is stopping without a graceful shutdown
        }
        guard openSockets() > 0 else { return }
        logger.info("graceful shutdown: goaway to every client, draining", metadata: ["seconds": "\(drain)"])
        rooms.goAwayAll(within: drain)
        try? await Task.sleep(for: drain)
    }
}
