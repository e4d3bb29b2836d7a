import Foundation
import Interaction
import Logging
import NIOCore
import Synchronization

/// A viewer's or host's session on a channel's interaction WebSocket (`/api/v1/channels/CHANNEL/ws`,
/// docs/protocol.md): requests answered by their `ack`/`error`, the room's broadcasts as `envelopes`, resumption with
/// `lastSeq` after a drop, and an NTP-style estimate of the server clock for showing cues in sync.
///
/// ```swift
/// let client = try await InteractionClient.connect(url: "ws://localhost:8080/api/v1/channels/show/ws", token: jwt)
/// Task { for await envelope in client.envelopes { … } }
/// let reply = try await client.send(.pollVote(.init(pollID: "p1", choices: [0])))   // ack or error
/// ```
///
/// Invariants: `send` gives every request a fresh `id` and resolves with the frame carrying that `id`, or throws
/// when the connection drops first; a broadcast is delivered at most once even across reconnects (by `seq`);
/// nothing is delivered after `close()`. The class is `Sendable`: its state sits behind one `Mutex`, never held
/// across an `await`, and frames are handled on the socket's thread without a task per frame.
public final class InteractionClient: Sendable {
    public let url: String
    public let configuration: Configuration
    /// Everything the server sends except replies matched to a `send`: `hello` (again after each reconnect), room
    /// broadcasts, and errors without an `id`. Finishes when the client is closed or gives up reconnecting.
    public let envelopes: AsyncStream<ServerEnvelope>

    private let envelopesContinuation: AsyncStream<ServerEnvelope>.Continuation
    private let state: Mutex<InteractionClientState>
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let receivedCount = Atomic<Int>(0)
    private let ignoredCount = Atomic<Int>(0)
    private let logger: Logger
    /// The loop that carries `simulatedDelay` (one loop, so delayed frames keep their order).
    private let delayLoop: any EventLoop
    /// The latest moment a delayed frame is due, per direction (0 out, 1 in), so jittered frames keep their order.
    private let delayedUntil = Mutex<[ContinuousClock.Instant]>([.now, .now])
    /// Envelopes waiting to be shown at the playhead (`displayLatency`).
    private let display: AsyncStream<ServerEnvelope>.Continuation?
    /// The token each connection attempt uses, renewed or fetched again when due.
    let keeper: TokenKeeper
    /// The typed streams (`polls`, `chat`, …).
    let streams: RoomStreams
    /// Holds timeline messages for the typed streams until the playhead reaches them; nil without a `playhead`.
    private let gate: PlayheadGate?

    /// Connects and returns once the server's `hello` has arrived. `lastSeq` resumes an earlier session: the server
    /// replays what was missed from its bounded history, or sends a fresh snapshot (`hello.recovered == false`).
    public static func connect(url: String, token: String?, lastSeq: UInt64? = nil,
                               configuration: Configuration = Configuration(),
                               logger: Logger = Logger(label: "liveloop.client")) async throws -> InteractionClient {
        try await connect(url: url, keeper: TokenKeeper(.fixed(token)), lastSeq: lastSeq, configuration: configuration, logger: logger)
    }

    static func connect(url: String, keeper: TokenKeeper, lastSeq: UInt64?, configuration: Configuration,
                        logger: Logger) async throws -> InteractionClient {
        let client = InteractionClient(url: url, keeper: keeper, lastSeq: lastSeq, configuration: configuration, logger: logger)
        do {
            _ = try await client.openSession()
        } catch {
            await client.close()
            throw error
        }
        client.startClockSync()
        client.startReportingPlayhead()
        return client
    }

    /// The URL of a channel's interaction socket on a server (`http(s)://` or `ws(s)://` base).
    public static func url(server: String, channel: String) -> String {
        var base = server
        if base.hasPrefix("http://") { base = "ws://" + base.dropFirst(7) }
        if base.hasPrefix("https://") { base = "wss://" + base.dropFirst(8) }
        while base.hasSuffix("/") { base.removeLast() }
        let name = channel.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? channel
        return "\(base)/api/v1/channels/\(name)/ws"
    }

    private init(url: String, keeper: TokenKeeper, lastSeq: UInt64?, configuration: Configuration, logger: Logger) {
        self.url = url
        self.keeper = keeper
        self.configuration = configuration
        self.logger = logger
        var initial = InteractionClientState()
        initial.lastSeq = lastSeq
        state = Mutex(initial)
        let (stream, continuation) = AsyncStream.makeStream(
            of: ServerEnvelope.self, bufferingPolicy: .bufferingNewest(max(0, configuration.envelopeBufferLimit)))
        envelopes = stream
        envelopesContinuation = continuation
        let streams = RoomStreams(limit: configuration.streamBufferLimit)
        self.streams = streams
        gate = configuration.playhead != nil || configuration.displayLatency != nil
            ? PlayheadGate(capacity: configuration.heldMessageLimit) { streams.route($0) } : nil
        delayLoop = configuration.eventLoopGroup.any()
        if configuration.displayLatency != nil {
            let (shown, showing) = AsyncStream.makeStream(of: ServerEnvelope.self)
            display = showing
            let task = Task { [weak self] in
                for await envelope in shown {
                    await self?.show(envelope)
                }
            }
            tasks.withLock { $0.append(task) }
        } else {
            display = nil
        }
        if let playhead = configuration.playhead {
            gate?.setPlayhead(playhead)
        } else if let latency = configuration.displayLatency {
            let behind = Double(latency.components.seconds) + Double(latency.components.attoseconds) / 1e18
            gate?.setPlayhead { [weak self] in self?.serverDate().addingTimeInterval(-behind) }
        }
    }

    /// Waits until the playhead reaches `envelope`'s cue, then hands it to `onDisplay`.
    private func show(_ envelope: ServerEnvelope) async {
        if let cue = envelope.cue, let latency = configuration.displayLatency {
            let due = cue.at + latency
            let wait = Double(due.unixMilliseconds - serverNow().unixMilliseconds) / 1000
            if wait > 0 { try? await Task.sleep(for: .seconds(wait)) }
        }
        configuration.onDisplay?(envelope, serverNow())
    }

    /// Writes a frame, after `simulatedDelay` (and jitter) when one is set.
    private func write(_ frame: ByteBuffer, via transport: some InteractionTransport) {
        guard let wait = simulatedWait(direction: 0) else {
            transport.write(frame)
            return
        }
        delayLoop.scheduleTask(in: .nanoseconds(wait.wholeNanoseconds)) { transport.write(frame) }
    }

    /// How long a frame going `direction` waits on the simulated network, or nil when none is simulated.
    private func simulatedWait(direction: Int) -> Duration? {
        let base = configuration.simulatedDelay ?? .zero
        let jitter = configuration.simulatedJitter ?? .zero
        guard base > .zero || jitter > .zero else { return nil }
        let extra = jitter > .zero ? Duration.nanoseconds(Int64.random(in: 0...jitter.wholeNanoseconds)) : .zero
        let now = ContinuousClock.now
        let due = delayedUntil.withLock { until in
            let due = max(now + base + extra, until[direction])
            until[direction] = due
            return due
        }
        return due - now
    }

    /// Tells the server where this client's playhead is (`displayLatency`) and its best round trip.
    public func reportSync(latency: Duration?, path: String? = nil) {
        let rtt = clockSample.map { Int(($0.roundTrip * 1000).rounded()) }
        let latencyMs = latency.map { Int($0.wholeMilliseconds) }
        try? post(.sync(.init(latencyMs: latencyMs, rttMs: rtt, path: path)))
    }

    /// Renews an open join's token at its `renewAt`, so that it never lapses while the app runs (a reconnect uses the
    /// renewed one). A failed renewal is tried again after `renewalRetry`, until the token expires and a reconnect
    /// joins afresh.
    func startRenewing() {
        let keeper = keeper
        let logger = logger
        addTask(Task {
            while !Task.isCancelled, let due = await keeper.renewAt() {
                let wait = due.timeIntervalSinceNow
                if wait > 0 { try? await Task.sleep(for: .seconds(wait)) }
                guard !Task.isCancelled else { return }
                do {
                    try await keeper.renewNow(at: Date())
                } catch {
                    logger.debug("token renewal failed; trying again", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: Self.renewalRetry)
                }
            }
        })
    }

    /// How long a failed token renewal waits before the next try.
    static let renewalRetry: Duration = .seconds(30)

    /// With a `playhead`, tells the server this client's display latency (server now − the playhead's program date)
    /// about once a second while it changes, and every 10 s while it holds, so that the server holds cue-bearing
    /// messages and answer windows for it (docs/sync.md §5).
    private func startReportingPlayhead() {
        guard let playhead = configuration.playhead else { return }
        let path = configuration.playerPath
        addTask(Task { [weak self] in
            var last: (latency: Duration, at: ContinuousClock.Instant)?
            while !Task.isCancelled {
                guard let self else { return }
                if self.isConnected, let shown = playhead() {
                    let latency = Duration.seconds(self.serverDate().timeIntervalSince(shown))
                    let now = ContinuousClock.now
                    let moved = last.map { $0.latency - latency >= .milliseconds(50) || latency - $0.latency >= .milliseconds(50) }
                    if latency >= .zero, moved ?? true || now - (last?.at ?? now) >= .seconds(10) {
                        self.reportSync(latency: latency, path: path)
                        last = (latency, now)
                    }
                }
                try? await Task.sleep(for: .seconds(1))
            }
        })
    }

    /// The server time at which this client delivered `question` of `quizID` to `quizzes`, if it is the latest
    /// question delivered.
    func questionShownAt(quizID: String, question: Int) -> Timestamp? {
        guard let shown = streams.shownAt(quizID: quizID, question: question) else { return nil }
        return Timestamp(shown.addingTimeInterval(clockSample?.offset ?? 0))
    }

    deinit {
        finishStreams()
        for task in tasks.withLock({ $0 }) { task.cancel() }
    }

    /// Ends `envelopes` and every typed stream.
    private func finishStreams() {
        envelopesContinuation.finish()
        gate?.cancel()
        streams.finish()
    }

    // MARK: Session state

    /// The token the current (or next) connection uses: the one given to `connect`, or the latest from `join`.
    public var token: String? { keeper.latest.withLock { $0.token } }
    /// An open join's pass, renewed as it goes: keep it (it is `Codable`) to come back as the same viewer after a
    /// relaunch (`Credentials.name(_:resuming:)`). Nil for other credentials.
    public var joinPass: JoinPass? { keeper.latest.withLock { $0.pass } }

    /// The latest `hello` (who you are, the snapshot or recovery flag, the server's time).
    public var hello: ServerMessage.Hello? { state.withLock { $0.hello } }
    /// Who the server says you are.
    public var identity: Identity? { hello?.you }
    /// The last room sequence number seen: pass it to `connect(lastSeq:)` to resume a session elsewhere.
    public var lastSeq: UInt64? { state.withLock { $0.lastSeq } }
    /// Whether the socket is open and its `hello` has arrived.
    public var isConnected: Bool { state.withLock { $0.isConnected } }

    /// Text frames received so far, over all connections of this client.
    public var framesReceived: Int { receivedCount.load(ordering: .relaxed) }
    /// Of those, frames of `configuration.ignoredKinds`, skipped without decoding.
    public var framesIgnored: Int { ignoredCount.load(ordering: .relaxed) }

    // MARK: Typed streams

    /// Each `hello`: the first, then one after every reconnect. With `recovered == false` its `snapshot` is the room
    /// now: rebuild the screen from it (polls, quiz, chat, questions, offers); with `true` the missed messages follow.
    public var sessions: AsyncStream<ServerMessage.Hello> { streams.sessions }
    /// Polls as they change phase (`live`, `closed`, `revealed`); `results` is set once revealed.
    public var polls: AsyncStream<PollView> { streams.polls }
    /// Final counts of each poll when it is revealed.
    public var results: AsyncStream<ServerMessage.TallyView> { streams.results }
    /// Live counts of a poll, every tick while it is live (staff only).
    public var tallies: AsyncStream<ServerMessage.TallyView> { streams.tallies }
    /// The quiz as it moves: each question asked, closed, revealed (with `correct` and counts), the end.
    public var quizzes: AsyncStream<QuizView> { streams.quizzes }
    /// The quiz's top ten, after each reveal and at the end.
    public var leaderboards: AsyncStream<ServerMessage.LeaderboardView> { streams.leaderboards }
    /// This viewer's own rank and score, after each reveal.
    public var standings: AsyncStream<Standing> { streams.standings }
    /// Chat messages, deletions and slow-mode changes.
    public var chat: AsyncStream<ChatUpdate> { streams.chat }
    /// Q&A questions and upvote counts.
    public var questions: AsyncStream<QuestionUpdate> { streams.questions }
    /// Reaction taps since the previous tick, by emoji.
    public var reactions: AsyncStream<[String: Int]> { streams.reactions }
    /// Offer cards shown and hidden (and click counts, for staff).
    public var offers: AsyncStream<OfferUpdate> { streams.offers }
    /// Gifts sent and the top-supporters board.
    public var gifts: AsyncStream<GiftUpdate> { streams.gifts }
    /// The number of open connections in the room (only the newest is kept).
    public var viewers: AsyncStream<Int> { streams.viewers }
    /// Moderation notices about this viewer (timed out, banned, shadow-banned…).
    public var moderation: AsyncStream<ServerMessage.ModerationNotice> { streams.moderation }
    /// Every message that carries a cue, when it is delivered (with a `playhead`: when the video reaches it).
    public var cues: AsyncStream<CuedMessage> { streams.cues }

    // MARK: Clock

    /// Server clock minus this device's clock, from the clock-sync exchange with the lowest round trip; nil before
    /// the first `pong`.
    public var clockOffset: Duration? { state.withLock { $0.clock.best }.map { .seconds($0.offset) } }
    /// The bound on `clockOffset`'s error: half the best round trip.
    public var clockUncertainty: Duration? { state.withLock { $0.clock.best }.map { .seconds($0.uncertainty) } }
    /// The best clock sample, with its round trip and age.
    public var clockSample: ClockSample? { state.withLock { $0.clock.best } }

    /// The server's clock now, by this device's clock and the estimated offset (this device's time before sync).
    public func serverNow() -> Timestamp {
        Timestamp(serverDate())
    }

    /// `serverNow()` as a `Date`, without millisecond rounding.
    public func serverDate() -> Date {
        Date().addingTimeInterval(state.withLock { $0.clock.best }?.offset ?? 0)
    }

    /// Runs `samples` ping/pong exchanges one after another and returns the best sample so far (also the
    /// basis of `clockOffset`). Runs by itself after each connect when `configuration.clockSync` is set.
    @discardableResult
    public func synchronizeClock(samples: Int = 5) async throws -> ClockSample? {
        for _ in 0..<max(1, samples) {
            _ = try await request(.ping(.init(clientTime: Timestamp(Date()))), clockProbe: true)
        }
        return clockSample
    }

    // MARK: Requests

    /// Sends `message` with a fresh `id` and returns the server's answer: an `ack` (the request is durable), an
    /// `error` with a stable code (nothing changed), or a `pong`. Throws `InteractionClientError.disconnected` when
    /// the connection drops first (the request may or may not have been applied), `.timedOut` after
    /// `configuration.requestTimeout`, `.notConnected` between reconnects.
    @discardableResult
    public func send(_ message: ClientMessage) async throws -> ServerEnvelope {
        try await request(message, clockProbe: false)
    }

    /// `send`, with an `error` reply thrown as `InteractionClientError.refused`; returns the ack (its `ref` names
    /// what the request created, e.g. the new poll's id).
    @discardableResult
    public func perform(_ message: ClientMessage) async throws -> ServerMessage.Ack {
        let reply = try await send(message)
        switch reply.message {
        case .ack(let ack): return ack
        case .error(let error): throw InteractionClientError.refused(error)
        default: return ServerMessage.Ack()
        }
    }

    /// Sends `message` without an `id`: no answer comes back (reactions, fire-and-forget chat). Throws only when
    /// not connected.
    public func post(_ message: ClientMessage) throws {
        guard let transport = state.withLock({ $0.isConnected ? $0.transport : nil }) else {
            throw InteractionClientError.notConnected
        }
        write(ByteBuffer(bytes: try ClientRequest(message).jsonData()), via: transport)
    }

    private func request(_ message: ClientMessage, clockProbe: Bool) async throws -> ServerEnvelope {
        let (id, transport) = try state.withLock { state throws(InteractionClientError) in
            guard state.isConnected, let transport = state.transport else { throw .notConnected }
            return (state.makeRequestID(), transport)
        }
        let frame = ByteBuffer(bytes: try ClientRequest(id: id, message).jsonData())
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ServerEnvelope, any Error>) in
                let timeout = configuration.requestTimeout.map { limit in
                    configuration.eventLoopGroup.any().scheduleTask(in: .nanoseconds(limit.wholeNanoseconds)) { [weak self] in
                        guard let self else { return }
                        self.fail(request: id, with: InteractionClientError.timedOut)
                    }
                }
                let registered = state.withLock { state in
                    guard state.isConnected else { return false }
                    state.pending[id] = .init(continuation: continuation, sentAt: Date(), isClockProbe: clockProbe, timeout: timeout)
                    return true
                }
                guard registered else {
                    timeout?.cancel()
                    continuation.resume(throwing: InteractionClientError.notConnected)
                    return
                }
                write(frame, via: transport)
            }
        } onCancel: {
            fail(request: id, with: CancellationError())
        }
    }

    private func fail(request id: String, with error: any Error) {
        guard let pending = state.withLock({ $0.pending.removeValue(forKey: id) }) else { return }
        pending.timeout?.cancel()
        pending.continuation.resume(throwing: error)
    }

    // MARK: Closing

    /// Closes the session: pending requests fail with `.disconnected`, `envelopes` finishes, no reconnect follows.
    public func close() async {
        let (transport, pending, waiter) = state.withLock { state in
            state.closedByUser = true
            let ended = state.ended(generation: state.generation)
            return (ended?.transport, ended?.failed ?? [], ended?.waiter)
        }
        for task in tasks.withLock({ $0 }) { task.cancel() }
        for request in pending {
            request.timeout?.cancel()
            request.continuation.resume(throwing: InteractionClientError.disconnected)
        }
        waiter?.resume(with: .failure(InteractionClientError.disconnected))
        finishStreams()
        await transport?.close()
    }

    // MARK: Connection

    /// Opens a socket and waits for its `hello`, within the connect timeout.
    private func openSession() async throws -> ServerMessage.Hello {
        let token: String?
        do {
            token = try await keeper.token(at: Date())
        } catch {
            throw InteractionClientError.join(error)
        }
        let endpoint = try InteractionEndpoint(url: url, token: token, lastSeq: state.withLock { $0.lastSeq })
        let configuration = configuration
        let logger = logger
        return try await withCheckedThrowingContinuation { continuation in
            let waiter = ResumeOnce(continuation)
            let generation = state.withLock { $0.beginAttempt(waiter: waiter) }
            let timeout = configuration.eventLoopGroup.any().scheduleTask(in: .nanoseconds(configuration.connectTimeout.wholeNanoseconds)) {
                [weak self] in
                if self?.isReady(generation: generation) != true {
                    waiter.resume(with: .failure(InteractionClientError.timedOut))
                    self?.connectionEnded(generation: generation)
                }
            }
            let events = InteractionTransportEvents(
                frame: { [weak self] frame in self?.receive(frame, generation: generation) },
                closed: { [weak self] in self?.connectionEnded(generation: generation) }
            )
            Task {
                do {
                    let transport: any InteractionTransport
                    switch configuration.transport.resolved(secure: endpoint.secure) {
                    case .webSocketClient, .automatic:
                        transport = try await InteractionWebSocketClientTransport.open(
                            endpoint, configuration: configuration, events: events, logger: logger)
                    case .posix(let localAddress):
                        transport = try await InteractionPosixTransport.open(
                            endpoint, localAddress: localAddress, configuration: configuration, events: events)
                    }
                    let (current, ready) = self.state.withLock { $0.opened(transport, generation: generation) }
                    if !current { await transport.close() }
                    // The server closes a socket that says nothing for a while after it opens: a first word at once.
                    if current, let greeting = try? ClientRequest(.sync(.init())).jsonData() {
                        self.write(ByteBuffer(bytes: greeting), via: transport)
                    }
                    if let (readyWaiter, hello) = ready {
                        timeout.cancel()
                        readyWaiter.resume(with: .success(hello))
                    }
                } catch {
                    timeout.cancel()
                    waiter.resume(with: .failure(error))
                    self.connectionEnded(generation: generation)
                }
            }
        }
    }

    private func receive(_ frame: ByteBuffer, generation: Int) {
        if let wait = simulatedWait(direction: 1) {
            delayLoop.scheduleTask(in: .nanoseconds(wait.wholeNanoseconds)) { [weak self] in
                self?.receiveNow(frame, generation: generation)
            }
            return
        }
        receiveNow(frame, generation: generation)
    }

    private func receiveNow(_ frame: ByteBuffer, generation: Int) {
        let now = Date()
        receivedCount.add(1, ordering: .relaxed)
        if !configuration.ignoredKinds.isEmpty, let (kind, seq) = InteractionFrameSniffer.sniff(frame),
           configuration.ignoredKinds.contains(kind) {
            ignoredCount.add(1, ordering: .relaxed)
            state.withLock { $0.skipped(seq: seq, generation: generation) }
            return
        }
        let envelope: ServerEnvelope
        do {
            envelope = try ServerEnvelope.decode(Data(frame.readableBytesView))
        } catch {
            logger.debug("ignoring an undecodable frame", metadata: ["error": "\(error)"])
            return
        }
        let receipt = state.withLock { $0.receive(envelope, generation: generation, at: now) }
        if let reply = receipt.reply {
            reply.timeout?.cancel()
            reply.continuation.resume(returning: envelope)
        }
        if receipt.deliver {
            configuration.onEnvelope?(envelope)
            envelopesContinuation.yield(envelope)
            display?.yield(envelope)
            if let gate { gate.take(envelope) } else { streams.route(envelope) }
        }
        if let (waiter, hello) = receipt.ready { waiter.resume(with: .success(hello)) }
        if let (waiter, error) = receipt.refused { waiter.resume(with: .failure(InteractionClientError.refused(error))) }
        if receipt.deliver, case .goaway(let notice) = envelope.message { moveOn(after: notice, generation: generation) }
    }

    /// The server is going away: leave at a random moment in the first half of its window, so the reconnect (with
    /// `lastSeq`, through the same address, to whichever node answers) is done before the server closes the socket.
    private func moveOn(after notice: ServerMessage.GoAway, generation: Int) {
        let window = min(max(notice.reconnectWithinMs, 0), 60_000)
        let delay = Duration.milliseconds(Int.random(in: 0...(window / 2)))
        addTask(Task { [weak self] in
            try? await Task.sleep(for: delay)
            guard let self, let transport = self.state.withLock({ $0.generation == generation ? $0.transport : nil }) else { return }
            await transport.close()
        })
    }

    private func isReady(generation: Int) -> Bool {
        state.withLock { $0.generation == generation && $0.isConnected }
    }

    private func connectionEnded(generation: Int) {
        let (ended, closedByUser) = state.withLock { ($0.ended(generation: generation), $0.closedByUser) }
        guard let ended else { return }
        if let transport = ended.transport {
            // A session that timed out before its hello still has its socket open.
            Task { await transport.close() }
        }
        for request in ended.failed {
            request.timeout?.cancel()
            request.continuation.resume(throwing: InteractionClientError.disconnected)
        }
        ended.waiter?.resume(with: .failure(InteractionClientError.disconnected))
        guard ended.wasReady, !closedByUser else { return }
        if let policy = configuration.reconnect {
            startReconnecting(policy)
        } else {
            finishStreams()
        }
    }

    private func startReconnecting(_ policy: Configuration.Reconnect) {
        let task = Task { [weak self] in
            var attempt = 0
            while !Task.isCancelled {
                if let limit = policy.maximumAttempts, attempt >= limit { break }
                let ceiling = policy.delayCeiling(attempt: attempt).components
                let wait = Double.random(in: 0...1) * (Double(ceiling.seconds) + Double(ceiling.attoseconds) / 1e18)
                try? await Task.sleep(for: .seconds(wait))
                guard let self, !Task.isCancelled else { return }
                do {
                    _ = try await self.openSession()
                    return
                } catch {
                    self.logger.debug("reconnect failed", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                    attempt += 1
                }
            }
            self?.finishStreams()
        }
        addTask(task)
    }

    private func startClockSync() {
        guard let policy = configuration.clockSync else { return }
        let task = Task { [weak self] in
            // Holds the client only during a round, so an abandoned client is freed between rounds.
            while !Task.isCancelled, await self?.synchronizeClockRound(samples: policy.samples) != nil {
                try? await Task.sleep(for: policy.interval)
            }
        }
        addTask(task)
    }

    private func synchronizeClockRound(samples: Int) async {
        do {
            try await synchronizeClock(samples: samples)
            if let latency = configuration.displayLatency { reportSync(latency: latency) }
        } catch {
            logger.debug("clock sync round failed; the next round tries again", metadata: ["error": "\(error)"])
        }
    }

    func addTask(_ task: Task<Void, Never>) {
        let closed = state.withLock { $0.closedByUser }
        if closed {
            task.cancel()
            return
        }
        tasks.withLock { tasks in
            tasks.removeAll { $0.isCancelled }
            tasks.append(task)
        }
    }
}
