import Foundation
import Interaction
import LiveMedia
import Logging
import Synchronization

/// The id of each channel's broadcast in progress, as the analytics records name it (`b` + its start in Unix ms).
final class LiveBroadcasts: Sendable {
    private let ids = Mutex<[String: String]>([:])

    func id(for channel: String) -> String? { ids.withLock { $0[channel] } }

    func set(_ id: String?, for channel: String) { ids.withLock { $0[channel] = id } }

    static func makeID(startedAt: Date) -> String { "b\(Timestamp(startedAt).unixMilliseconds)" }
}

/// Writes each broadcast's start and end into its channel's room log (`Record.broadcastStarted`/`broadcastEnded`),
/// from the broadcast registry's lifecycle events, one at a time and in order.
///
/// The registry calls in on ingest paths, so the observer only queues the event; a single task loads the room (which
/// may read the channel's log) and records it, waiting until the records are durable. `finish()` at shutdown
/// records what is queued before the rooms stop.
final class BroadcastRecorder: Sendable {
    private let continuation: AsyncStream<BroadcastRegistry.Lifecycle>.Continuation
    private let consumer: Task<Void, Never>
    let live: LiveBroadcasts

    /// How long recording one event waits for its commit before going on (a room stopped in between never answers).
    static let commitWait: Duration = .seconds(2)

    init(rooms: RoomRegistry, live: LiveBroadcasts, logger: Logger) {
        self.live = live
        let (stream, continuation) = AsyncStream.makeStream(of: BroadcastRegistry.Lifecycle.self)
        self.continuation = continuation
        consumer = Task {
            for await event in stream {
                await Self.record(event, rooms: rooms, live: live, logger: logger)
            }
        }
    }

    /// The registry's observer.
    func observe(_ event: BroadcastRegistry.Lifecycle) {
        continuation.yield(event)
    }

    /// Records every queued event, then stops taking more.
    func finish() async {
        continuation.finish()
        await consumer.value
    }

    private static func record(_ event: BroadcastRegistry.Lifecycle, rooms: RoomRegistry, live: LiveBroadcasts,
                               logger: Logger) async {
        switch event {
        case let .started(channel, at):
            let id = LiveBroadcasts.makeID(startedAt: at)
            live.set(id, for: channel)
            switch await room(channel, rooms, logger) {
            case let .led(host)?: await host.record(wait: commitWait) { $0.beginBroadcast(id, at: Timestamp(at)) }
            case let .followed(follower)?: follower.broadcast(id, began: true, at: at)
            case nil: break
            }
        case let .ended(channel, at):
            guard let id = live.id(for: channel) else { return }
            live.set(nil, for: channel)
            switch await room(channel, rooms, logger) {
            case let .led(host)?: await host.record(wait: commitWait) { $0.endBroadcast(id, at: Timestamp(at)) }
            case let .followed(follower)?: follower.broadcast(id, began: false, at: at)
            case nil: break
            }
        }
    }

    private static func room(_ channel: String, _ rooms: RoomRegistry, _ logger: Logger) async -> LoadedRoom? {
        do {
            return try await rooms.resolve(channel)
        } catch {
            logger.error("could not record a broadcast's start or end", metadata: ["channel": "\(channel)", "error": "\(error)"])
            return nil
        }
    }
}
