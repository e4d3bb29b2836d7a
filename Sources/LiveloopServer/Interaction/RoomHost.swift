import Foundation
import Interaction
import Logging
import NIOCore
import Storage
import Synchronization

/// Hosts one channel's `Room`: applies requests under a short lock, commits their records through the group-commit
/// log, and only then delivers replies and broadcasts, in the room's order, to the connected clients.
///
/// Votes, the one request that comes 100,000 at a time, never take the room's lock: each voter's `sub` picks one of
/// `ballotShards` `BallotBox`es (its own lock, its own share of the dedup map) that judges the vote and counts it into a
/// delta tally; the pipeline commits the vote records in its next batch and acknowledges them, and the tick merges
/// the deltas into the room. Poll closes seal the boxes first, so every ballot accepted before a close is in the log
/// before the close record and in the tally the close reports.
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
    private let shards: [ShardBox]

    /// How many ballot boxes a room splits its voters over.
    static let ballotShards = 16

    /// One shard behind its own lock (a class, so the shards can live in an array).
    final class ShardBox: Sendable {
        private let shard: Mutex<BallotShard>
        init(_ shard: BallotShard) { self.shard = Mutex(shard) }
        func withLock<Result: Sendable>(_ body: (inout BallotShard) throws -> Result) rethrows -> Result {
            try shard.withLock { try body(&$0) }
        }
    }

    /// A ballot box and the votes it accepted that the pipeline has not committed yet.
    struct BallotShard: Sendable {
        var box: BallotBox
        var pending: [PendingVote] = []
    }

    struct PendingVote: Sendable {
        var record: Record
        var requestID: String?
        var sender: ClientConnection?
        var reply: (@Sendable (ServerEnvelope?) -> Void)?
    }

    /// How often the room ticks: reaction counts, tallies to hosts, window expiry.
    public static let tickInterval: Duration = .milliseconds(100)

    enum Event: Sendable {
        case register(ClientConnection, [ServerEnvelope])
        case unregister(ClientConnection)
        case update(RoomUpdate, sender: ClientConnection?, reply: (@Sendable (ServerEnvelope?) -> Void)?)
        case votes([PendingVote])
    }

    /// Called when records could not be committed: the room's memory is then ahead of its log, so the registry
    /// rebuilds it from the log (clients reconnect and get the state that is really stored).
    private let onCommitFailure: @Sendable () -> Void

    init(channel: String, room: Room, log: GroupCommitLog, logger: Logger, onCommitFailure: @escaping @Sendable () -> Void = {}) {
        self.onCommitFailure = onCommitFailure
        self.channel = channel
        self.shards = (0..<Self.ballotShards).map { shard in
            var box = BallotBox(rateLimit: room.configuration.rateLimits.votes)
            box.update(room.pollRules)
            for poll in room.livePolls {
                box.seed(pollID: poll.pollID,
                         ballots: poll.ballots.filter { Self.shardIndex(of: $0.key) == shard })
            }
            return ShardBox(BallotShard(box: box))
        }
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
        if case let .pollVote(vote) = request.message {
            castVote(vote, id: request.id, from: identity, at: now, sender: sender, reply: reply)
            return
        }
        room.withLock { room in
            let kind = request.message.kind
            let authorized = (try? room.authorize(kind, for: identity)) != nil
            let closing = authorized ? Self.pollsClosed(by: request.message) : []
            if !closing.isEmpty { sealShards(into: &room, closing: closing) }
            let update = room.handle(request, from: identity, at: Timestamp(Date()))
            if authorized && Self.pollKinds.contains(kind) { publishRules(of: room) }
            queue.withLock { $0.append(.update(update, sender: sender, reply: reply)) }
        }
        wakeup.yield()
    }

    // MARK: Votes

    static func shardIndex(of sub: String) -> Int {
        var hasher = Hasher()
        hasher.combine(sub)
        return Int(UInt(bitPattern: hasher.finalize()) % UInt(ballotShards))
    }

    /// The hot path: one ballot box's lock, no room lock. Refusals answer at once; acceptances after the commit.
    private func castVote(_ vote: ClientMessage.PollVote, id: String?, from identity: Identity, at now: Timestamp,
                          sender: ClientConnection?, reply: (@Sendable (ServerEnvelope?) -> Void)?) {
        let refusal = shards[Self.shardIndex(of: identity.sub)].withLock { shard -> InteractionError? in
            do throws(InteractionError) {
                let record = try shard.box.vote(vote, from: identity, at: now)
                shard.pending.append(PendingVote(record: record, requestID: id, sender: sender, reply: reply))
                return nil
            } catch {
                return error
            }
        }
        guard let refusal else {
            wakeup.yield()
            return
        }
        let answer = ServerEnvelope(id: id, .error(.init(refusal)))
        if let reply {
            reply(answer)
        } else if let sender {
            sendDirect(answer, to: sender)
        }
    }

    private static let pollKinds: Set<ClientMessage.Kind> = [.pollCreate, .pollLaunch, .pollClose, .pollReveal]

    /// The polls a host request closes (and so must seal in the ballot boxes before the room records the close).
    private static func pollsClosed(by message: ClientMessage) -> [String] {
        switch message {
        case .pollClose(let target), .pollReveal(let target): [target.pollID]
        default: []
        }
    }

    /// Called under the room's lock: stops `closing` in every box, moves the boxes' accepted votes into the queue
    /// (ahead of whatever the caller enqueues next) and merges their counts into the room.
    private func sealShards(into room: inout Room, closing: [String]) {
        var deltas: [[String: Tally]] = []
        for shard in shards {
            shard.withLock { shard in
                if !closing.isEmpty { shard.box.close(closing) }
                deltas.append(shard.box.takeDeltas())
                if !shard.pending.isEmpty {
                    let pending = shard.pending
                    shard.pending.removeAll(keepingCapacity: true)
                    queue.withLock { $0.append(.votes(pending)) }
                }
            }
        }
        for delta in deltas where !delta.isEmpty { room.mergeTallies(delta) }
    }

    /// Called under the room's lock after a poll changed phase.
    private func publishRules(of room: Room) {
        let rules = room.pollRules
        for shard in shards {
            shard.withLock { $0.box.update(rules) }
        }
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
            let now = Timestamp(Date())
            let expiring = room.pollsExpiring(at: now)
            sealShards(into: &room, closing: expiring)
            let update = room.tick(at: now)
            if !expiring.isEmpty { publishRules(of: room) }
            guard !update.broadcasts.isEmpty || !update.records.isEmpty else { return }
            queue.withLock { $0.append(.update(update, sender: nil, reply: nil)) }
        }
        wakeup.yield()
    }

    // MARK: The pipeline

    private func runBatch(_ connections: inout [Int: ClientConnection]) async {
        // Votes still in the boxes were accepted after everything already queued, so they go after it.
        var batch = queue.withLock { queue -> [Event] in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        var votes: [PendingVote] = []
        for shard in shards {
            shard.withLock { shard in
                guard !shard.pending.isEmpty else { return }
                votes.append(contentsOf: shard.pending)
                shard.pending.removeAll(keepingCapacity: true)
            }
        }
        if !votes.isEmpty { batch.append(.votes(votes)) }
        guard !batch.isEmpty else { return }
        var payloads: [Data] = []
        let encoder = JSONEncoder()
        for event in batch {
            switch event {
            case let .update(update, _, _):
                for record in update.records {
                    if let data = try? encoder.encode(record) { payloads.append(data) }
                }
            case let .votes(votes):
                for vote in votes {
                    if let data = try? encoder.encode(vote.record) { payloads.append(data) }
                }
            case .register, .unregister:
                break
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
            case let .votes(votes):
                for vote in votes {
                    let answer = committed
                        ? vote.requestID.map { ServerEnvelope(id: $0, .ack(.init(ref: nil))) }
                        : ServerEnvelope(id: vote.requestID, .error(.init(InteractionError(.conflict, "the server could not store this; try again"))))
                    if let reply = vote.reply {
                        reply(answer)
                    } else if let sender = vote.sender, let answer, let bytes = Self.encode(answer) {
                        sender.send(bytes)
                    }
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
