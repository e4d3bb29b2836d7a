import Foundation
import Synchronization

/// The ordering, commit and merge logic of one channel's room, with no clock, store or socket inside: events and the
/// time come in, and out come the records to commit (`takeBatch`) and, once the shell says whether they were
/// committed (`complete`), the replies and broadcasts to deliver, to whom (`RoomDelivery`).
///
/// Requests are applied to the `Room` under a short lock and queued in the room's order. Votes, the one request
/// that comes 100,000 at a time, never take the room's lock: each voter's `sub` picks one of `ballotShards`
/// `BallotBox`es (its own lock, its own share of the dedup map) that judges the vote and counts it into a delta
/// tally; the next batch commits the accepted votes and acknowledges them, and the tick merges the deltas into the
/// room. Poll closes seal the boxes first, so every ballot accepted before a close is in the log before the close
/// record and in the tally the close reports.
///
/// The shell (the server's `RoomHost`) calls it from any thread; it runs one pipeline per room that repeatedly takes
/// a batch, commits its records, and completes it. Tests drive it the same way with a virtual clock.
public final class RoomCore<Peer: RoomPeer>: Sendable {
    /// Where a request's answer goes: a connected peer, a callback (a REST caller), or nowhere.
    public enum Origin: Sendable {
        case peer(Peer)
        case callback(@Sendable (ServerEnvelope?) -> Void)
        case none

        func answer(_ envelope: ServerEnvelope?) {
            switch self {
            case let .peer(peer):
                if let envelope, let frame = Peer.frame(envelope) { peer.send(frame) }
            case let .callback(reply):
                reply(envelope)
            case .none:
                break
            }
        }
    }

    /// One step of the room's order, as the pipeline sees it.
    enum Step: Sendable {
        case register(Peer, [ServerEnvelope])
        case unregister(Peer)
        case update(RoomUpdate, Origin)
        case votes([PendingVote])
        /// Closes every connection whose identity matches (its token was revoked).
        case expel(@Sendable (Identity) -> Bool)
        /// Tells every connection the server is going away (past any hold).
        case goAway(ServerEnvelope)
    }

    struct PendingVote: Sendable {
        var record: Record
        var requestID: String?
        var origin: Origin
    }

    /// A ballot box and the votes it accepted that the pipeline has not taken yet.
    struct BallotShard: Sendable {
        var box: BallotBox
        var pending: [PendingVote] = []
    }

    /// One shard behind its own lock (a class, so the shards can live in an array).
    final class ShardBox: Sendable {
        private let shard: Mutex<BallotShard>
        init(_ shard: BallotShard) { self.shard = Mutex(shard) }
        func withLock<Result: Sendable>(_ body: (inout BallotShard) throws -> Result) rethrows -> Result {
            try shard.withLock { try body(&$0) }
        }
    }

    /// How many ballot boxes a room splits its voters over.
    public static var ballotShards: Int { 16 }
    /// The per-user bucket for REST requests: what the per-connection bucket is on a WebSocket.
    public static var restRate: RateLimit { RateLimit(burst: 40, perSecond: 20) }
    /// Allowance (ms) on a viewer's reported latency for reports still on their way.
    public static var reportSlack: Int { 100 }

    let room: Mutex<Room>
    let queue = Mutex<[Step]>([])
    let shards: [ShardBox]
    /// The room's admission rule as last handed to the ballot boxes (delivery reads it to close banned clients).
    let admission: Mutex<Admission>
    private let restLimiter = Mutex(RateLimiter(RoomCore.restRate))
    private let lastRestPrune = Mutex<Timestamp?>(nil)
    /// False from a refused commit until the shell hears the store answer again (`storeAvailable`).
    private let writable = Atomic<Bool>(true)
    /// The largest display latency a viewer's report is believed up to (the room's `maxDisplayLatency`).
    public let latencyBound: Duration

    public init(room: Room) {
        latencyBound = room.configuration.maxDisplayLatency
        shards = Self.makeShards(for: room)
        admission = Mutex(room.admission)
        self.room = Mutex(room)
    }

    private func enqueue(_ step: Step) {
        queue.withLock { $0.append(step) }
    }

    // MARK: Events in

    /// The store refused a commit (the database is away): from now on a request that would store a record is refused
    /// at once with `unavailable`, before it changes the room; pings, syncs and reactions go on.
    public func storeUnavailable() {
        writable.store(false, ordering: .relaxed)
    }

    /// The store answers again: requests that store records are taken again.
    public func storeAvailable() {
        writable.store(true, ordering: .relaxed)
    }

    /// Whether the room takes requests that store records.
    public var isWritable: Bool { writable.load(ordering: .relaxed) }

    /// Adds a client: it receives `hello` (and what it missed since `lastSeq`) before any later broadcast.
    public func connect(_ peer: Peer, lastSeq: UInt64?, at now: Timestamp) throws(InteractionError) {
        try room.withLock { (room: inout Room) throws(InteractionError) in
            try room.join(peer.identity)
            let (hello, missed) = room.hello(for: peer.identity, resumingAfter: lastSeq, at: now)
            // Queued under the room lock: nothing the room does after this snapshot can be delivered before it.
            queue.withLock { $0.append(.register(peer, [hello] + missed)) }
        }
    }

    public func disconnect(_ peer: Peer) {
        room.withLock { room in
            room.leave(peer.identity)
            queue.withLock { $0.append(.unregister(peer)) }
        }
    }

    /// Closes the open connections whose identity matches `predicate` (a revocation of their tokens).
    public func expel(where predicate: @escaping @Sendable (Identity) -> Bool) {
        enqueue(.expel(predicate))
    }

    /// Queues a `goaway` for every client, sent past any hold.
    public func goAway(_ envelope: ServerEnvelope) {
        enqueue(.goAway(envelope))
    }

    /// Takes a token from `identity`'s REST bucket; false when it is empty (answer `rate_limited`).
    public func admitREST(_ identity: Identity, at now: Timestamp) -> Bool {
        restLimiter.withLock { limiter in (try? limiter.take(for: identity.sub, at: now)) != nil }
    }

    /// Applies a room request (everything but `ping` and `sync`, which the shell answers itself). Returns the
    /// refusal to send at once for a vote the boxes refused; otherwise the answer goes to `origin` after the batch
    /// that holds the request's records is committed. `cue` is the broadcast's stream position for host requests.
    @discardableResult
    public func handle(_ request: ClientRequest, from identity: Identity, origin: Origin, cue: CueStamp? = nil,
                       at now: Timestamp) -> RoomUpdate? {
        if request.message.kind.isStored, !writable.load(ordering: .relaxed) {
            origin.answer(ServerEnvelope(id: request.id, .error(.init(Self.unavailable))))
            return nil
        }
        if case let .pollVote(vote) = request.message {
            castVote(vote, id: request.id, from: identity, origin: origin, at: now)
            return nil
        }
        let kind = request.message.kind
        var context = RequestTiming()
        if kind == .quizAnswer, case let .peer(peer) = origin {
            // Trust the claimed display time up to the latency this connection has been reporting (and a little
            // for reports in flight): the question left the server for it no earlier than that minus its lead.
            context.maxDisplayLatency = .milliseconds(peer.displayLatencyMilliseconds + Self.reportSlack)
            context.transit = .milliseconds(peer.transitCreditMilliseconds)
        }
        if kind.requiredRole == .host { context.cue = cue }
        return room.withLock { room in
            let authorized = (try? room.authorize(kind, for: identity, at: now)) != nil
            let closing = authorized ? Self.pollsClosed(by: request.message) : []
            if !closing.isEmpty { sealShards(into: &room, closing: closing) }
            let update = room.handle(request, from: identity, at: now, context: context)
            if authorized && Self.pollKinds.contains(kind) { publishRules(of: room) }
            if update.records.contains(where: Self.isModeration) { publishAdmission(of: room) }
            queue.withLock { $0.append(.update(update, origin)) }
            return update
        }
    }

    /// Applies a change the server makes itself (a broadcast's start or end); `done` hears when its records are
    /// committed (or refused), in the room's order.
    public func record(_ body: (inout Room) -> RoomUpdate, done: @escaping @Sendable (ServerEnvelope?) -> Void) {
        room.withLock { room in
            let update = body(&room)
            queue.withLock { $0.append(.update(update, .callback(done))) }
        }
    }

    /// The room's tick: polls past their deadline close (after their boxes are sealed), counts merge, windows expire,
    /// idle per-user tables are pruned. Returns the update it queued, if any.
    public func tick(at now: Timestamp) -> RoomUpdate? {
        let update = room.withLock { room -> RoomUpdate? in
            let expiring = room.pollsExpiring(at: now)
            sealShards(into: &room, closing: expiring)
            let update = room.tick(at: now)
            if !expiring.isEmpty { publishRules(of: room) }
            // The boxes' per-voter buckets are pruned like the room's own tables (each box keeps the interval).
            for shard in shards { shard.withLock { $0.box.pruneIfDue(at: now) } }
            guard !update.broadcasts.isEmpty || !update.records.isEmpty else { return nil }
            queue.withLock { $0.append(.update(update, .none)) }
            return update
        }
        pruneRESTLimiter(at: now)
        return update
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

    // MARK: Reads

    /// The room as `identity` may see it, with every vote accepted so far counted.
    public func snapshot(for identity: Identity) -> RoomSnapshot {
        room.withLock { room in
            sealShards(into: &room, closing: [])
            return room.snapshot(for: identity)
        }
    }

    /// Reads the room under its lock.
    public func read<Result: Sendable>(_ body: (Room) -> Result) -> Result {
        room.withLock { body($0) }
    }

    public var viewerCount: Int { room.withLock { $0.viewers } }

    /// Whether anything waits for the pipeline (queued steps or accepted votes).
    public var hasWork: Bool {
        if !queue.withLock({ $0.isEmpty }) { return true }
        return shards.contains { shard in shard.withLock { !$0.pending.isEmpty } }
    }

    // MARK: Actions out

    /// What the pipeline commits next: everything queued, then the votes still in the boxes (accepted after
    /// everything already queued, so they go after it).
    public struct Batch: Sendable {
        let steps: [Step]

        public var isEmpty: Bool { steps.isEmpty }

        /// The records to commit, in order.
        public var records: [Record] {
            var records: [Record] = []
            for step in steps {
                switch step {
                case let .update(update, _): records += update.records
                case let .votes(votes): records += votes.map(\.record)
                case .register, .unregister, .expel, .goAway: break
                }
            }
            return records
        }

        /// The records as the log stores them (JSON; votes through the fast encoder).
        public var payloads: [Data] {
            var payloads: [Data] = []
            let encoder = JSONEncoder()
            for step in steps {
                switch step {
                case let .update(update, _):
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
            return payloads
        }
    }

    public func takeBatch() -> Batch {
        var steps = queue.withLock { queue -> [Step] in
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
        if !votes.isEmpty { steps.append(.votes(votes)) }
        return Batch(steps: steps)
    }

    /// What a completed batch did, for the shell's hooks and counters.
    public struct Completion: Sendable {
        /// Updates whose records were committed (in order).
        public var committed: [RoomUpdate] = []
        /// Votes and quiz answers accepted (committed) in the batch.
        public var votes = 0
        public var answers = 0
        /// Whether the batch's records could not be committed: the room's memory is then ahead of its log.
        public var failed = false
    }

    /// The error a request gets when its records could not be committed.
    public static var notStored: InteractionError { InteractionError(.unavailable, "the server could not store this; try again") }
    /// The answer to a request that would store a record while the database is away.
    public static var unavailable: InteractionError {
        InteractionError(.unavailable, "the database is unavailable: this was not stored; try again shortly")
    }

    /// Delivers a batch once its records are committed (`committed`) or refused: replies and acks go to their
    /// origins (errors when not stored), broadcasts of committed updates to their audiences, connections come and go.
    public func complete(_ batch: Batch, committed: Bool, at now: Int64, into delivery: inout RoomDelivery<Peer>) -> Completion {
        var completion = Completion(failed: !committed)
        for step in batch.steps {
            switch step {
            case let .register(peer, frames):
                delivery.register(peer, frames: frames, now: now)
            case let .unregister(peer):
                delivery.unregister(peer)
            case let .goAway(envelope):
                if let frame = Peer.frame(envelope) { delivery.sendToAll(frame) }
            case let .expel(predicate):
                delivery.expel(where: predicate)
            case let .update(update, origin):
                let stored = committed || update.records.isEmpty
                origin.answer(stored ? update.reply : ServerEnvelope(id: update.reply?.id, .error(.init(Self.notStored))))
                guard stored else { continue }
                if !update.records.isEmpty { completion.committed.append(update) }
                for record in update.records {
                    if case .quizAnswer = record { completion.answers += 1 } else if case .vote = record { completion.votes += 1 }
                }
                for broadcast in update.broadcasts {
                    delivery.deliver(broadcast, now: now)
                    // A ban takes effect at once: the banned user's open connections are closed (those it holds: not
                    // a host's connection under a moderator's ban of their sub).
                    if case let .moderation(notice) = broadcast.message, notice.action == .ban, case let .only(sub) = broadcast.audience {
                        delivery.closeBanned(sub, holds: admission.withLock { $0.moderation })
                    }
                }
            case let .votes(votes):
                if committed { completion.votes += votes.count }
                for vote in votes {
                    switch vote.origin {
                    case let .peer(peer):
                        if committed {
                            if let id = vote.requestID { peer.send(Peer.ack(id: id)) }
                        } else {
                            vote.origin.answer(ServerEnvelope(id: vote.requestID, .error(.init(Self.notStored))))
                        }
                    case .callback, .none:
                        vote.origin.answer(committed
                            ? vote.requestID.map { ServerEnvelope(id: $0, .ack(.init())) }
                            : ServerEnvelope(id: vote.requestID, .error(.init(Self.notStored))))
                    }
                }
            }
        }
        return completion
    }
}

extension RoomCore {
    /// The room's checkpoint if its memory equals its committed log: nothing queued and no accepted vote waiting
    /// (the caller has just completed every batch it took). Nil otherwise; try again after the next batch.
    public func settledCheckpoint() -> RoomCheckpoint? {
        room.withLock { room -> RoomCheckpoint? in
            guard queue.withLock({ $0.isEmpty }) else { return nil }
            var ballots: [String: [String: Choices]] = [:]
            var settled = true
            var deltas: [[String: Tally]] = []
            for shard in shards {
                shard.withLock { shard in
                    guard shard.pending.isEmpty else {
                        settled = false
                        return
                    }
                    deltas.append(shard.box.takeDeltas())
                    for (pollID, held) in shard.box.heldBallots { ballots[pollID, default: [:]].merge(held) { _, box in box } }
                }
            }
            // Deltas taken are merged whatever happens next: they are votes already counted by the boxes.
            for delta in deltas where !delta.isEmpty { room.mergeTallies(delta) }
            guard settled else { return nil }
            return room.checkpoint(ballots: ballots)
        }
    }
}
