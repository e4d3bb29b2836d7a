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
///
/// Host actions are stamped with the broadcast's timeline (`CueTimeline`) and their messages carry that cue. Staff
/// get them at once; each viewer gets them a short lead before their own playhead reaches the cue (from the display
/// latency their player reports in `sync`), with everything after them for that viewer queued behind, so results
/// and correct answers are never on a viewer's wire before their video gets there (docs/sync.md).
public final class RoomHost: Sendable {
    public let channel: String
    let room: Mutex<Room>
    let queue = Mutex<[Event]>([])
    let wakeup: AsyncStream<Void>.Continuation
    private let nextConnectionID = Atomic<Int>(0)
    private let log: GroupCommitLog
    private let logger: Logger
    private let tasks: Mutex<[Task<Void, Never>]> = Mutex([])
    let shards: [ShardBox]
    private let timeline: (any CueTimeline)?
    /// The largest display latency a viewer's report is believed up to (the room's `maxDisplayLatency`).
    private let latencyBound: Duration
    /// Whether the pipeline holds frames for some viewer (the release ticker then wakes it every few ms).
    private let holding = Atomic<Bool>(false)
    /// Wakes the release ticker when the pipeline starts holding frames; it sleeps on this otherwise, so a room with
    /// nothing held costs no timer wakeups.
    private let holdingStarted: AsyncStream<Void>.Continuation
    /// The room's admission rule as last handed to the ballot boxes (the pipeline reads it to close banned clients).
    let admission: Mutex<Admission>
    /// Per-user bucket for REST requests: what the per-connection bucket is on a WebSocket, keyed by `sub` because a
    /// REST caller has no connection. Pruned on the tick like every per-user table.
    private let restLimiter = Mutex(RateLimiter(RoomHost.restRate))
    private let lastRestPrune = Mutex<Timestamp?>(nil)

    /// The per-user REST bucket: the same as a WebSocket connection's (burst 40, 20 per second).
    static let restRate = RateLimit(burst: 40, perSecond: 20)

    /// How often held frames are checked for release.
    static let releaseInterval: Duration = .milliseconds(5)
    /// Frames held for one viewer before it counts as too slow (like the outbox limit).
    static let heldLimit = 1024

    /// What the pipeline owns: the connections and, per viewer, the frames waiting for that viewer's playhead.
    struct Delivery {
        var connections: [Int: ClientConnection] = [:]
        var held: [Int: [(due: Int64, bytes: ByteBuffer)]] = [:]
        /// The earliest `due` among the held frames' first entries: nothing to release before it.
        var nextDue = Int64.max
    }

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
        /// Closes every connection whose identity matches (its token was revoked).
        case expel(@Sendable (Identity) -> Bool)
        /// Tells every connection the server is going away (a `goaway` frame, past any hold).
        case goAway(ByteBuffer)
    }

    /// Called when records could not be committed: the room's memory is then ahead of its log, so the registry
    /// rebuilds it from the log (clients reconnect and get the state that is really stored).
    private let onCommitFailure: @Sendable () -> Void
    /// Counters of messages, votes, answers and drops (none in tests that build a host by hand).
    let metrics: InteractionMetrics?
    /// Told of each update once its records are committed (webhooks watch for poll closes, quiz ends and gifts); it
    /// must return at once: it runs on the pipeline.
    private let onCommitted: @Sendable (String, RoomUpdate) -> Void

    init(channel: String, room: Room, log: GroupCommitLog, logger: Logger, timeline: (any CueTimeline)? = nil,
         metrics: InteractionMetrics? = nil,
         onCommitted: @escaping @Sendable (String, RoomUpdate) -> Void = { _, _ in },
         onCommitFailure: @escaping @Sendable () -> Void = {}) {
        self.onCommitFailure = onCommitFailure
        self.metrics = metrics
        self.onCommitted = onCommitted
        self.timeline = timeline
        self.latencyBound = room.configuration.maxDisplayLatency
        self.channel = channel
        self.shards = Self.makeShards(for: room)
        self.admission = Mutex(room.admission)
        self.room = Mutex(room)
        self.log = log
        self.logger = logger
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        wakeup = continuation
        let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        holdingStarted = startedContinuation
        let pipeline = Task { [weak self] in
            var delivery = Delivery()
            for await _ in stream {
                guard let self else { return }
                await self.runBatch(&delivery)
            }
            for connection in delivery.connections.values { connection.close() }
        }
        let ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.tickInterval)
                self?.tick()
            }
        }
        let releaser = Task { [weak self] in
            for await _ in started {
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.releaseInterval)
                    guard let self else { return }
                    guard self.holding.load(ordering: .relaxed) else { break }
                    self.wakeup.yield()
                }
            }
        }
        tasks.withLock { $0 = [pipeline, ticker, releaser] }
    }

    func stop() {
        wakeup.finish()
        holdingStarted.finish()
        for task in tasks.withLock({ $0 }) { task.cancel() }
    }

    private func enqueue(_ event: Event) {
        queue.withLock { $0.append(event) }
        wakeup.yield()
    }

    // MARK: Called by the gateway

    /// Adds a client; it receives `hello` (and what it missed since `lastSeq`) before any later broadcast.
    func connect(_ identity: Identity, lastSeq: UInt64?, channel: any NIOCore.Channel, ended: AsyncStream<Void>.Continuation) throws(InteractionError) -> ClientConnection {
        let connection = ClientConnection(id: nextConnectionID.wrappingAdd(1, ordering: .relaxed).newValue, identity: identity,
                                          channel: channel, ended: ended)
        try room.withLock { (room: inout Room) throws(InteractionError) in
            try room.join(identity)
            let (hello, missed) = room.hello(for: identity, resumingAfter: lastSeq, at: Timestamp(Date()))
            // Enqueued under the room lock: nothing the room does after this snapshot can be delivered before it.
            queue.withLock { $0.append(.register(connection, [hello] + missed)) }
        }
        wakeup.yield()
        return connection
    }

    /// Closes the open connections whose identity matches `predicate` (a revocation of their tokens).
    func expel(where predicate: @escaping @Sendable (Identity) -> Bool) {
        enqueue(.expel(predicate))
    }

    /// Sends `goaway` to every client: reconnect elsewhere within `window`. The sockets close when the room stops.
    func goAway(within window: Duration) {
        let message = ServerMessage.GoAway(reconnectWithinMs: Int(window.wholeMilliseconds))
        if let bytes = Self.encode(ServerEnvelope(.goaway(message))) { enqueue(.goAway(bytes)) }
    }

    /// Takes a token from `identity`'s REST bucket; false when it is empty (answer `rate_limited`).
    func admitREST(_ identity: Identity, at now: Timestamp = Timestamp(Date())) -> Bool {
        restLimiter.withLock { limiter in (try? limiter.take(for: identity.sub, at: now)) != nil }
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
        metrics?.received(request.message.kind)
        if case let .ping(ping) = request.message, let sender {
            // Clock sync wants the fastest possible answer: a pong changes nothing in the room, so it takes neither the
            // room's lock nor the commit pipeline.
            let pong = ServerEnvelope(id: request.id, .pong(.init(serverTime: now, clientTime: ping.clientTime)))
            if let bytes = Self.encode(pong) { sender.send(bytes) }
            return
        }
        if case let .sync(report) = request.message {
            // A player's report about itself: no room state, no lock.
            sender?.update(report, bound: latencyBound)
            if let id = request.id, let sender { sendDirect(ServerEnvelope(id: id, .ack(.init())), to: sender) }
            return
        }
        if case let .pollVote(vote) = request.message {
            castVote(vote, id: request.id, from: identity, at: now, sender: sender, reply: reply)
            return
        }
        let kind = request.message.kind
        var context = RequestTiming()
        if kind == .quizAnswer, let sender {
            // Trust the claimed display time up to the latency this connection has been reporting (and a little
            // for reports in flight): the question left the server for it no earlier than that minus its lead.
            context.maxDisplayLatency = .milliseconds(sender.displayLatencyMilliseconds + Self.reportSlack)
            context.transit = .milliseconds(sender.transitCreditMilliseconds)
        }
        if kind.requiredRole == .host {
            context.cue = timeline?.stamp(channel: channel, at: Date())
        }
        let update = room.withLock { room in
            let authorized = (try? room.authorize(kind, for: identity, at: now)) != nil
            let closing = authorized ? Self.pollsClosed(by: request.message) : []
            if !closing.isEmpty { sealShards(into: &room, closing: closing) }
            let update = room.handle(request, from: identity, at: Timestamp(Date()), context: context)
            if authorized && Self.pollKinds.contains(kind) { publishRules(of: room) }
            if update.records.contains(where: Self.isModeration) { publishAdmission(of: room) }
            queue.withLock { $0.append(.update(update, sender: sender, reply: reply)) }
            return update
        }
        wakeup.yield()
        publishCues(of: update, kind: kind.rawValue)
    }

    /// Allowance (ms) on a viewer's reported latency for reports still on their way.
    static let reportSlack = 100

    /// Writes the cues of an update's broadcasts into the video, one per distinct cue.
    private func publishCues(of update: RoomUpdate, kind: String) {
        guard let timeline else { return }
        var seen: Set<CueStamp> = []
        for broadcast in update.broadcasts {
            // Only what everyone sees goes into the video: a draft or one player's standing is nobody else's business.
            guard let cue = broadcast.cue, broadcast.audience == .everyone, seen.insert(cue).inserted else { continue }
            let ref = Self.reference(of: broadcast.message)
            var attributes = ["SEQ": String(broadcast.seq)]
            if let ref { attributes["REF"] = ref }
            timeline.publish(channel: channel, cue: cue, id: "\(channel)-\(broadcast.seq)", kind: kind,
                             attributes: attributes, payload: FastJSON.cuePayload(type: kind, seq: broadcast.seq, ref: ref))
        }
    }

    /// The poll, quiz or offer a message is about (offer ids are the host's own text: the payload escapes them, the
    /// playlist writer cleans them).
    private static func reference(of message: ServerMessage) -> String? {
        switch message {
        case .poll(let view): view.pollID
        case .results(let tally): tally.pollID
        case .quiz(let view): view.quizID
        case .leaderboard(let board): board.quizID
        case .offer(let offer): offer.offerID
        case .offerHidden(let target): target.offerID
        default: nil
        }
    }

    /// Sends a frame straight to one client (errors that never reached the room, such as a malformed frame).
    func sendDirect(_ envelope: ServerEnvelope, to connection: ClientConnection) {
        if let bytes = Self.encode(envelope) { connection.send(bytes) }
    }

    /// Clients connected to the room now.
    public var viewerCount: Int { room.withLock { $0.viewers } }

    /// The latency behind ingest the channel's players hold.
    public var syncTargets: SyncTargets { room.withLock { $0.configuration.syncTargets } }

    /// Whether viewers without a token may join (as guests: read and react only).
    public var allowsGuests: Bool { room.withLock { $0.configuration.allowsAnonymous } }

    /// The room as `identity` may see it, with every vote acknowledged so far counted.
    public func snapshot(for identity: Identity) -> RoomSnapshot {
        let (snapshot, moved) = room.withLock { room in
            let moved = sealShards(into: &room, closing: [])
            return (room.snapshot(for: identity), moved)
        }
        if moved { wakeup.yield() }
        return snapshot
    }

    private func tick() {
        let update = room.withLock { room -> RoomUpdate? in
            let now = Timestamp(Date())
            let expiring = room.pollsExpiring(at: now)
            sealShards(into: &room, closing: expiring)
            let update = room.tick(at: now)
            if !expiring.isEmpty { publishRules(of: room) }
            // The boxes' per-voter buckets are pruned like the room's own tables (each box keeps the interval).
            for shard in shards { shard.withLock { $0.box.pruneIfDue(at: now) } }
            guard !update.broadcasts.isEmpty || !update.records.isEmpty else { return nil }
            queue.withLock { $0.append(.update(update, sender: nil, reply: nil)) }
            return update
        }
        pruneRESTLimiter(at: Timestamp(Date()))
        guard let update else { return }
        wakeup.yield()
        if update.broadcasts.contains(where: { $0.cue != nil }) { publishCues(of: update, kind: "window.close") }
    }

    private func pruneRESTLimiter(at now: Timestamp) {
        let due = lastRestPrune.withLock { last -> Bool in
            guard let previous = last else {
                last = now
                return false
            }
            guard previous.duration(to: now) >= BallotBox.pruneInterval else { return false }
            last = now
            return true
        }
        if due { restLimiter.withLock { $0.prune(at: now) } }
    }

    // MARK: The pipeline

    private func runBatch(_ delivery: inout Delivery) async {
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
        if !batch.isEmpty { await process(batch, &delivery) }
        release(&delivery)
        let holds = !delivery.held.isEmpty
        if holding.exchange(holds, ordering: .relaxed) != holds, holds { holdingStarted.yield() }
    }

    private func process(_ batch: [Event], _ delivery: inout Delivery) async {
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
                    if case let .vote(pollID, sub, choices, at) = vote.record {
                        payloads.append(Data(FastJSON.voteRecord(pollID: pollID, sub: sub, choices: choices, at: at)))
                    } else if let data = try? encoder.encode(vote.record) {
                        payloads.append(data)
                    }
                }
            case .register, .unregister, .expel, .goAway:
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
        let now = Timestamp(Date()).unixMilliseconds
        for event in batch {
            switch event {
            case let .register(connection, frames):
                delivery.connections[connection.id] = connection
                for frame in frames {
                    guard let bytes = Self.encode(frame) else { continue }
                    if !schedule(bytes, cue: frame.cue, for: connection, now: now, &delivery) { drop(connection.id, &delivery) }
                }
            case let .unregister(connection):
                delivery.connections[connection.id] = nil
                delivery.held[connection.id] = nil
                connection.close()
            case let .goAway(bytes):
                for connection in delivery.connections.values { connection.send(bytes) }
            case let .expel(predicate):
                for (id, connection) in delivery.connections where predicate(connection.identity) {
                    delivery.held[id] = nil
                    delivery.connections.removeValue(forKey: id)?.close()
                }
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
                if !update.records.isEmpty { onCommitted(channel, update) }
                for broadcast in update.broadcasts {
                    deliver(broadcast, now: now, &delivery)
                }
            case let .votes(votes):
                for vote in votes {
                    if let reply = vote.reply {
                        reply(committed
                            ? vote.requestID.map { ServerEnvelope(id: $0, .ack(.init())) }
                            : ServerEnvelope(id: vote.requestID, .error(.init(Self.notStored))))
                    } else if let sender = vote.sender {
                        if committed {
                            if let id = vote.requestID { sender.send(ByteBuffer(bytes: FastJSON.ack(id: id))) }
                        } else if let bytes = Self.encode(ServerEnvelope(id: vote.requestID, .error(.init(Self.notStored)))) {
                            sender.send(bytes)
                        }
                    }
                }
            }
        }
        if committed, let metrics { Self.count(batch, into: metrics) }
        if !committed { onCommitFailure() }
    }


    private func deliver(_ broadcast: RoomBroadcast, now: Int64, _ delivery: inout Delivery) {
        guard let bytes = Self.encode(broadcast.envelope) else { return }
        var slow: [Int] = []
        for (id, connection) in delivery.connections where broadcast.audience.includes(connection.identity) {
            if !schedule(bytes, cue: broadcast.cue, for: connection, now: now, &delivery) { slow.append(id) }
        }
        for id in slow { drop(id, &delivery) }
        // A ban takes effect at once: the banned user's open connections are closed (those it holds: not a host's
        // connection under a moderator's ban of their sub).
        if case let .moderation(notice) = broadcast.message, notice.action == .ban, case let .only(sub) = broadcast.audience {
            let holds = admission.withLock { $0.moderation }
            for (id, connection) in delivery.connections where connection.identity.sub == sub && holds.isBanned(connection.identity) {
                delivery.held[id] = nil
                delivery.connections.removeValue(forKey: id)?.close()
            }
        }
    }

    /// Sends a frame now, or holds it until `lead` before the viewer's playhead reaches its cue. Staff never wait.
    /// A viewer's frames leave in order: once one is held, the ones after it queue behind it. False: too slow.
    private func schedule(_ bytes: ByteBuffer, cue: CueStamp?, for connection: ClientConnection, now: Int64,
                          _ delivery: inout Delivery) -> Bool {
        var due: Int64 = 0
        if let cue, !connection.identity.role.isStaff {
            due = cue.at.unixMilliseconds + Int64(connection.displayLatencyMilliseconds - connection.leadMilliseconds)
        }
        if var queue = delivery.held[connection.id], let last = queue.last {
            guard queue.count < Self.heldLimit else { return false }
            queue.append((max(due, last.due), bytes))
            delivery.held[connection.id] = queue
            return true
        }
        if due <= now { return connection.send(bytes) }
        delivery.held[connection.id] = [(due, bytes)]
        delivery.nextDue = min(delivery.nextDue, due)
        return true
    }

    /// Sends the held frames whose time has come.
    private func release(_ delivery: inout Delivery) {
        let now = Timestamp(Date()).unixMilliseconds
        guard !delivery.held.isEmpty, delivery.nextDue <= now else { return }
        var slow: [Int] = []
        var nextDue = Int64.max
        for (id, queue) in delivery.held {
            guard let first = queue.first else { continue }
            guard first.due <= now else {
                nextDue = min(nextDue, first.due)
                continue
            }
            guard let connection = delivery.connections[id] else {
                delivery.held[id] = nil
                continue
            }
            let ready = queue.prefix { $0.due <= now }
            for frame in ready where !connection.send(frame.bytes) {
                slow.append(id)
                break
            }
            if ready.count == queue.count {
                delivery.held[id] = nil
            } else {
                let rest = Array(queue.dropFirst(ready.count))
                delivery.held[id] = rest
                nextDue = min(nextDue, rest[0].due)
            }
        }
        for id in slow { drop(id, &delivery) }
        delivery.nextDue = nextDue
    }

    private func drop(_ id: Int, _ delivery: inout Delivery) {
        delivery.held[id] = nil
        guard let connection = delivery.connections.removeValue(forKey: id) else { return }
        // A send also fails for a client that has just gone; only a full queue is a slow consumer.
        if connection.wasTooSlow {
            logger.info("dropping a slow WebSocket client", metadata: ["channel": "\(channel)"])
            metrics?.droppedSlowConsumer()
        }
        connection.drop()
    }

    static let notStored = InteractionError(.conflict, "the server could not store this; try again")

    static func encode(_ envelope: ServerEnvelope) -> ByteBuffer? {
        (try? envelope.jsonData()).map { ByteBuffer(bytes: $0) }
    }
}
