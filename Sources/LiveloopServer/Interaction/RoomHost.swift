import Foundation
import Interaction
import Logging
import NIOCore
import Storage
import Synchronization

/// Hosts one channel's `Room`: applies requests under a short lock, commits their records through the group-commit
/// log, and only then delivers replies and broadcasts, in the room's order, to the connected clients.
///
/// The delivery pipeline is a single task per room that owns the list of connections, so fan-out needs no lock: a
/// broadcast is encoded once and the same bytes are queued for every client in its audience.
public final class RoomHost: Sendable {
    public let channel: String
    private let room: Mutex<Room>
    private let queue = Mutex<[Event]>([])
    private let wakeup: AsyncStream<Void>.Continuation
    private let nextConnectionID = Atomic<Int>(0)
    private let log: GroupCommitLog
    private let logger: Logger
    private let tasks: Mutex<[Task<Void, Never>]> = Mutex([])

    /// How often the room ticks: reaction counts, tallies to hosts, window expiry.
    public static let tickInterval: Duration = .milliseconds(100)

    enum Event: Sendable {
        case register(ClientConnection, [ServerEnvelope])
        case unregister(ClientConnection)
        case update(RoomUpdate, sender: ClientConnection?, reply: (@Sendable (ServerEnvelope?) -> Void)?)
    }

    /// Called when records could not be committed: the room's memory is then ahead of its log, so the registry
    /// rebuilds it from the log (clients reconnect and get the state that is really stored).
    private let onCommitFailure: @Sendable () -> Void

    init(channel: String, room: Room, log: GroupCommitLog, logger: Logger, onCommitFailure: @escaping @Sendable () -> Void = {}) {
        self.onCommitFailure = onCommitFailure
        self.channel = channel
        self.room = Mutex(room)
        self.log = log
        self.logger = logger
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        wakeup = continuation
        let pipeline = Task { [weak self] in
            var connections: [Int: ClientConnection] = [:]
            for await _ in stream {
                guard let self else { return }
                await self.runBatch(&connections)
            }
            for connection in connections.values { connection.close() }
        }
        let ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.tickInterval)
                self?.tick()
            }
        }
        tasks.withLock { $0 = [pipeline, ticker] }
    }

    func stop() {
        wakeup.finish()
        for task in tasks.withLock({ $0 }) { task.cancel() }
    }

    private func enqueue(_ event: Event) {
        queue.withLock { $0.append(event) }
        wakeup.yield()
    }

    // MARK: Called by the gateway

    /// Adds a client; it receives `hello` (and what it missed since `lastSeq`) before any later broadcast.
    func connect(_ identity: Identity, lastSeq: UInt64?, outbox: AsyncStream<ByteBuffer>.Continuation) throws(InteractionError) -> ClientConnection {
        let connection = ClientConnection(id: nextConnectionID.wrappingAdd(1, ordering: .relaxed).newValue, identity: identity, outbox: outbox)
        try room.withLock { (room: inout Room) throws(InteractionError) in
            try room.join(identity)
            let (hello, missed) = room.hello(for: identity, resumingAfter: lastSeq, at: Timestamp(Date()))
            // Enqueued under the room lock: nothing the room does after this snapshot can be delivered before it.
            queue.withLock { $0.append(.register(connection, [hello] + missed)) }
        }
        wakeup.yield()
        return connection
    }

    func disconnect(_ connection: ClientConnection) {
        room.withLock { room in
            room.leave(connection.identity)
            queue.withLock { $0.append(.unregister(connection)) }
        }
        wakeup.yield()
    }

    /// Applies a request. The reply goes to `sender`'s queue, or to `reply` (REST), after the records are durable.
    func handle(_ request: ClientRequest, from identity: Identity, sender: ClientConnection?,
                reply: (@Sendable (ServerEnvelope?) -> Void)? = nil) {
        let now = Timestamp(Date())
        if case let .ping(ping) = request.message, let sender {
            // Clock sync wants the fastest possible answer: a pong changes nothing in the room, so it takes neither the
            // room's lock nor the commit pipeline.
            let pong = ServerEnvelope(id: request.id, .pong(.init(serverTime: now, clientTime: ping.clientTime)))
            if let bytes = Self.encode(pong) { sender.send(bytes) }
            return
        }
        room.withLock { room in
            let update = room.handle(request, from: identity, at: now)
            queue.withLock { $0.append(.update(update, sender: sender, reply: reply)) }
        }
        wakeup.yield()
    }

    /// Sends a frame straight to one client (errors that never reached the room, such as a malformed frame).
    func sendDirect(_ envelope: ServerEnvelope, to connection: ClientConnection) {
        if let bytes = Self.encode(envelope) { connection.send(bytes) }
    }

    /// Clients connected to the room now.
    public var viewerCount: Int { room.withLock { $0.viewers } }

    /// Whether viewers without a token may join (as guests: read and react only).
    public var allowsGuests: Bool { room.withLock { $0.configuration.allowsAnonymous } }

    public func snapshot(for identity: Identity) -> RoomSnapshot {
        room.withLock { $0.snapshot(for: identity) }
    }

    private func tick() {
        room.withLock { room in
            let update = room.tick(at: Timestamp(Date()))
            guard !update.broadcasts.isEmpty || !update.records.isEmpty else { return }
            queue.withLock { $0.append(.update(update, sender: nil, reply: nil)) }
        }
        wakeup.yield()
    }

    // MARK: The pipeline

    private func runBatch(_ connections: inout [Int: ClientConnection]) async {
        let batch = queue.withLock { queue -> [Event] in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        guard !batch.isEmpty else { return }
        var payloads: [Data] = []
        let encoder = JSONEncoder()
        for case let .update(update, _, _) in batch {
            for record in update.records {
                if let data = try? encoder.encode(record) { payloads.append(data) }
            }
        }
        var committed = true
        if !payloads.isEmpty {
            do {
                try await log.append(channel: channel, payloads: payloads)
            } catch {
                committed = false
                logger.error("could not commit room records; refusing the batch and rebuilding the room from its log",
                             metadata: ["channel": "\(channel)", "error": "\(error)"])
            }
        }
        for event in batch {
            switch event {
            case let .register(connection, frames):
                connections[connection.id] = connection
                for frame in frames {
                    if let bytes = Self.encode(frame) { connection.send(bytes) }
                }
            case let .unregister(connection):
                connections[connection.id] = nil
                connection.close()
            case let .update(update, sender, reply):
                var answer = update.reply
                if !committed, !update.records.isEmpty {
                    answer = ServerEnvelope(id: update.reply?.id, .error(.init(InteractionError(.conflict, "the server could not store this; try again"))))
                }
                if let reply {
                    reply(answer)
                } else if let sender, let answer, let bytes = Self.encode(answer) {
                    sender.send(bytes)
                }
                guard committed || update.records.isEmpty else { continue }
                for broadcast in update.broadcasts {
                    deliver(broadcast, to: &connections)
                }
            }
        }
        if !committed { onCommitFailure() }
    }

    private func deliver(_ broadcast: RoomBroadcast, to connections: inout [Int: ClientConnection]) {
        guard let bytes = Self.encode(broadcast.envelope) else { return }
        var slow: [Int] = []
        for (id, connection) in connections where broadcast.audience.includes(connection.identity) {
            if !connection.send(bytes) { slow.append(id) }
        }
        for id in slow {
            logger.info("dropping a slow WebSocket client", metadata: ["channel": "\(channel)"])
            connections.removeValue(forKey: id)?.close()
        }
        // A ban takes effect at once: the banned user's open connections are closed.
        if case let .moderation(notice) = broadcast.message, notice.action == .ban, case let .only(sub) = broadcast.audience {
            for (id, connection) in connections where connection.identity.sub == sub {
                connections.removeValue(forKey: id)?.close()
            }
        }
    }

    static func encode(_ envelope: ServerEnvelope) -> ByteBuffer? {
        (try? envelope.jsonData()).map { ByteBuffer(bytes: $0) }
    }
}
