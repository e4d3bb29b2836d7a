import Foundation
import Interaction
import Logging
import NIOCore
import Storage
import Synchronization

/// The shell around one channel's `RoomCore`: it moves bytes between the sockets, the core and the event log, and
/// brings the clock. Requests go into the core with the time they arrived; a pipeline task takes the core's batches,
/// commits their records through the group-commit log, and hands the outcome back to the core, which delivers the
/// replies and broadcasts (docs/sync.md: viewers get cue-bearing frames a short lead before their playhead). A ticker
/// drives the core's tick; a releaser wakes the pipeline while frames are held for some viewer's playhead.
///
/// Every `checkpointInterval` committed records, once the room's memory equals its log, the pipeline stores a
/// checkpoint of the room, so a restart reads that and the records after it, not the whole history.
public final class RoomHost: Sendable {
    public let channel: String
    let core: RoomCore<ClientConnection>
    let wakeup: AsyncStream<Void>.Continuation
    let nextConnectionID = Atomic<Int>(0)
    /// The other nodes' room links (docs/cluster.md), by node: each gets every broadcast once.
    let links = Mutex<[String: RoomLink]>([:])
    let nextLinkEpoch = Atomic<Int>(0)
    private let logger: Logger
    private let tasks: Mutex<[Task<Void, Never>]> = Mutex([])
    private let timeline: (any CueTimeline)?
    /// Whether the pipeline holds frames for some viewer (the release ticker then wakes it every few ms).
    private let holding = Atomic<Bool>(false)
    /// Wakes the release ticker when the pipeline starts holding frames; it sleeps on this otherwise, so a room with
    /// nothing held costs no timer wakeups.
    private let holdingStarted: AsyncStream<Void>.Continuation
    /// Called when records could not be committed: the room's memory is then ahead of its log, so the registry
    /// rebuilds it from the log (clients reconnect and get the state that is really stored).
    private let onCommitFailure: @Sendable () -> Void
    /// Counters of messages, votes, answers and drops (none in tests that build a host by hand).
    let metrics: InteractionMetrics?
    /// Told of each update once its records are committed (webhooks watch for poll closes, quiz ends and gifts); it
    /// must return at once: it runs on the pipeline.
    private let onCommitted: @Sendable (String, RoomUpdate) -> Void
    /// Set while a probe waits for the database to answer again (one at a time).
    private let probing = Atomic<Bool>(false)

    /// How often the room ticks: reaction counts, tallies to hosts, window expiry.
    public static let tickInterval: Duration = .milliseconds(100)
    /// While the database is away, how often the room asks it whether it answers again.
    static let storeProbeInterval: Duration = .seconds(1)
    /// How often held frames are checked for release.
    static let releaseInterval: Duration = .milliseconds(5)
    /// Committed records between two checkpoints of a room.
    public static let defaultCheckpointInterval = 10_000

    /// What the pipeline task owns.
    struct Pipeline {
        var delivery = RoomDelivery<ClientConnection>()
        /// The id of the room's newest committed record.
        var lastID: Int64
        /// Records committed since the last checkpoint.
        var sinceCheckpoint: Int
    }

    init(channel: String, room: Room, log: GroupCommitLog, eventLog: any EventLog, logger: Logger,
         timeline: (any CueTimeline)? = nil, metrics: InteractionMetrics? = nil,
         lastID: Int64 = 0, uncheckpointed: Int = 0, checkpointInterval: Int = RoomHost.defaultCheckpointInterval,
         onCommitted: @escaping @Sendable (String, RoomUpdate) -> Void = { _, _ in },
         onCommitFailure: @escaping @Sendable () -> Void = {}) {
        self.onCommitFailure = onCommitFailure
        self.metrics = metrics
        self.onCommitted = onCommitted
        self.timeline = timeline
        self.channel = channel
        self.core = RoomCore(room: room)
        self.logger = logger
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        wakeup = continuation
        let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        holdingStarted = startedContinuation
        let pipeline = Task { [weak self] in
            var state = Pipeline(lastID: lastID, sinceCheckpoint: uncheckpointed)
            state.delivery.relay = { [weak self] broadcast, frame in self?.relay(broadcast, frame) }
            for await _ in stream {
                guard let self else { return }
                await self.runBatch(&state, log: log, eventLog: eventLog, checkpointInterval: checkpointInterval)
            }
            state.delivery.closeAll()
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

    /// Has the registry drop this room, so the next client rebuilds it from the log with the channel's settings.
    func rebuild() {
        onCommitFailure()
    }

    func stop() {
        for link in links.withLock({ Array($0.values) }) { link.close() }
        wakeup.finish()
        holdingStarted.finish()
        for task in tasks.withLock({ $0 }) { task.cancel() }
    }

    static var now: Timestamp { Timestamp(Date()) }

    // MARK: Called by the gateway

    /// Adds a client; it receives `hello` (and what it missed since `lastSeq`) before any later broadcast.
    func connect(_ identity: Identity, lastSeq: UInt64?, channel: any NIOCore.Channel, ended: AsyncStream<Void>.Continuation) throws(InteractionError) -> ClientConnection {
        let connection = ClientConnection(id: nextConnectionID.wrappingAdd(1, ordering: .relaxed).newValue, identity: identity,
                                          channel: channel, ended: ended)
        try core.connect(connection, lastSeq: lastSeq, at: Self.now)
        wakeup.yield()
        return connection
    }

    /// Closes the open connections whose identity matches `predicate` (a revocation of their tokens).
    func expel(where predicate: @escaping @Sendable (Identity) -> Bool) {
        core.expel(where: predicate)
        wakeup.yield()
    }

    /// Sends `goaway` to every client: reconnect elsewhere within `window`. The sockets close when the room stops.
    func goAway(within window: Duration) {
        core.goAway(ServerEnvelope(.goaway(ServerMessage.GoAway(reconnectWithinMs: Int(window.wholeMilliseconds)))))
        wakeup.yield()
    }

    /// Takes a token from `identity`'s REST bucket; false when it is empty (answer `rate_limited`).
    func admitREST(_ identity: Identity, at now: Timestamp = Timestamp(Date())) -> Bool {
        core.admitREST(identity, at: now)
    }

    func disconnect(_ connection: ClientConnection) {
        core.disconnect(connection)
        wakeup.yield()
    }

    /// Applies a request. The reply goes to `sender`'s queue, or to `reply` (REST), after the records are durable.
    func handle(_ request: ClientRequest, from identity: Identity, sender: ClientConnection?,
                reply: (@Sendable (ServerEnvelope?) -> Void)? = nil) {
        let now = Self.now
        metrics?.received(request.message.kind)
        if case let .ping(ping) = request.message, let sender {
            // Clock sync wants the fastest possible answer: a pong changes nothing in the room.
            sendDirect(ServerEnvelope(id: request.id, .pong(.init(serverTime: now, clientTime: ping.clientTime))), to: sender)
            return
        }
        if case let .sync(report) = request.message {
            // A player's report about itself: no room state.
            sender?.update(report, bound: core.latencyBound)
            if let id = request.id, let sender { sendDirect(ServerEnvelope(id: id, .ack(.init())), to: sender) }
            return
        }
        let origin: RoomCore<ClientConnection>.Origin = if let reply { .callback(reply) } else if let sender { .peer(sender) } else { .none }
        let kind = request.message.kind
        let cue = kind.requiredRole == .host ? timeline?.stamp(channel: channel, at: Date()) : nil
        let update = core.handle(request, from: identity, origin: origin, cue: cue, at: now)
        wakeup.yield()
        if let update { publishCues(of: update, kind: kind.rawValue) }
    }

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
    public var viewerCount: Int { core.viewerCount }

    /// The latency behind ingest the channel's players hold.
    public var syncTargets: SyncTargets { core.read { $0.configuration.syncTargets } }

    /// Whether viewers without a token may join (as guests: read and react only).
    public var allowsGuests: Bool { core.read { $0.configuration.allowsAnonymous } }

    /// Every offer the room has shown, with its clicks (for staff: `GET …/offers`).
    public var offerClicks: [Offers.ClickCount] { core.read { $0.offers.clickCounts } }

    /// Every sponsored poll and quiz, with the clicks on its sponsor (for staff: `GET …/sponsors`).
    public var sponsorClicks: [SponsorClicks.ClickCount] { core.read { $0.sponsorClickCounts } }

    /// The room as `identity` may see it, with every vote acknowledged so far counted.
    public func snapshot(for identity: Identity) -> RoomSnapshot {
        let snapshot = core.snapshot(for: identity)
        wakeup.yield()
        return snapshot
    }

    private func tick() {
        guard let update = core.tick(at: Self.now) else { return }
        wakeup.yield()
        if update.broadcasts.contains(where: { $0.cue != nil }) { publishCues(of: update, kind: "window.close") }
    }

    // MARK: The pipeline

    private func runBatch(_ state: inout Pipeline, log: GroupCommitLog, eventLog: any EventLog, checkpointInterval: Int) async {
        let batch = core.takeBatch()
        if !batch.isEmpty {
            let payloads = batch.payloads
            var committed = true
            var storeAway = false
            if !payloads.isEmpty {
                do {
                    state.lastID = max(state.lastID, try await log.append(channel: channel, payloads: payloads))
                    state.sinceCheckpoint += payloads.count
                } catch {
                    committed = false
                    storeAway = StoreAvailability.isUnavailable(error)
                    if storeAway {
                        // Refuse writes before they change the room; rebuild it from the log once the database is back.
                        core.storeUnavailable()
                        if !probing.exchange(true, ordering: .relaxed) {
                            logger.error("the database is unavailable; the room refuses writes (unavailable) until it answers again",
                                         metadata: ["channel": "\(channel)", "error": "\(error)"])
                            watchStore(eventLog)
                        }
                    } else {
                        logger.error("could not commit room records; refusing the batch and rebuilding the room from its log",
                                     metadata: ["channel": "\(channel)", "error": "\(error)"])
                    }
                }
            }
            let completion = core.complete(batch, committed: committed, at: Self.now.unixMilliseconds, into: &state.delivery)
            for update in completion.committed { onCommitted(channel, update) }
            if committed { metrics?.accepted(votes: completion.votes, answers: completion.answers) }
            if completion.failed, !storeAway { onCommitFailure() }
            if committed, state.sinceCheckpoint >= checkpointInterval { await checkpoint(&state, eventLog: eventLog) }
        }
        state.delivery.release(now: Self.now.unixMilliseconds)
        for _ in 0..<state.delivery.takeSlowDrops() {
            logger.info("dropping a slow WebSocket client", metadata: ["channel": "\(channel)"])
            metrics?.droppedSlowConsumer()
        }
        let holds = state.delivery.isHolding
        if holding.exchange(holds, ordering: .relaxed) != holds, holds { holdingStarted.yield() }
    }

    /// Asks the database every ``storeProbeInterval`` whether it answers again; when it does, has the registry rebuild
    /// the room from its log (the refused batch changed the room's memory, not the log), so clients reconnect to what
    /// is stored and writes are taken again.
    private func watchStore(_ eventLog: any EventLog) {
        let channel = channel
        let probe = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.storeProbeInterval)
                guard let self, !Task.isCancelled else { return }
                do {
                    _ = try await StoreAvailability.within(.seconds(2), "a probe") {
                        try await eventLog.records(channel: channel, after: .max)
                    }
                } catch {
                    continue
                }
                logger.notice("the database answers again; the room is rebuilt from it", metadata: ["channel": "\(channel)"])
                core.storeAvailable()
                onCommitFailure()
                return
            }
        }
        tasks.withLock { $0.append(probe) }
    }

    /// Stores a checkpoint when the room's memory equals its committed log (otherwise tries after the next batch).
    private func checkpoint(_ state: inout Pipeline, eventLog: any EventLog) async {
        guard let checkpoint = core.settledCheckpoint() else { return }
        do {
            try await eventLog.saveCheckpoint(channel: channel, through: state.lastID, body: checkpoint.encoded())
            state.sinceCheckpoint = 0
        } catch {
            logger.warning("could not store a room checkpoint", metadata: ["channel": "\(channel)", "error": "\(error)"])
        }
    }

    static func encode(_ envelope: ServerEnvelope) -> ByteBuffer? {
        ClientConnection.frame(envelope)
    }
}
