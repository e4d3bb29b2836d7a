import AsyncHTTPClient
import Foundation
import Interaction
import Logging
import NIOCore
import NIOHTTP1
import Storage
import Synchronization

/// A room whose node is another one (docs/cluster.md, "Rooms across nodes"): this node's clients of the channel go
/// through one link to that node. Their arrivals, requests and departures stream up to it in order (one long request,
/// each chunk carrying whatever queued meanwhile); the room there orders, commits and answers them, and streams back every
/// broadcast once with its audience and cue, and each client's own frames. Here the broadcasts are fanned out to the
/// clients in their audience, held for each viewer's playhead as on the room's node (`RoomDelivery`).
///
/// `ping` is answered here (clock sync measures this node); a `sync` report is kept here (it times this node's holds)
/// and forwarded (the room times quiz answers by it). When the link fails, every client here is closed: each
/// reconnects (resuming with `lastSeq`) and the registry finds the room's node again.
final class RoomFollower: Sendable {
    let channel: String
    let leader: NodeClaim
    let allowsGuests: Bool
    let syncTargets: SyncTargets
    private let latencyBound: Duration
    private let cluster: ClusterNode
    private let logger: Logger
    private let nextNumber = Atomic<Int>(0)
    private let state = Mutex(State())
    private let wakeup: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>
    private let tasks = Mutex<[Task<Void, Never>]>([])
    /// Wakes the release loop when frames start being held for a viewer; it sleeps on this otherwise, so a followed
    /// room with nothing held costs no timer wakeups.
    private let holdingStarted: AsyncStream<Void>.Continuation
    private let holdingStarts: AsyncStream<Void>
    /// Called once when the link has failed or been stopped.
    private let onEnd: @Sendable (RoomFollower) -> Void

    /// Events encoded in one chunk at most.
    static let batchLimit = 4096
    /// Chunks handed to the upstream request and not yet sent, at most.
    static let chunksInFlight = 1024
    /// Events waiting for the room's node at most: past that it is not keeping up, and the link ends (the clients
    /// here reconnect) rather than hold more.
    static let outboxLimit = 65_536
    static let heartbeat = Duration.seconds(2)

    struct State: Sendable {
        var delivery = RoomDelivery<ClientConnection>()
        /// Clients connected here whose `hello` has not come yet.
        var waiting: [Int: ClientConnection] = [:]
        var outbox: [RoomLinkEvent] = []
        var epoch: Int?
        var ended = false
    }

    enum LinkError: Error, CustomStringConvertible {
        case refused(Int)
        case closed
        case notReady
        case behind

        var description: String {
            switch self {
            case let .refused(status): "the room's node answered \(status)"
            case .closed: "the room's node closed the link"
            case .notReady: "the room's node did not open the link in time"
            case .behind: "the room's node fell \(RoomFollower.outboxLimit) events behind"
            }
        }
    }

    init(channel: String, leader: NodeClaim, configuration: RoomConfiguration, cluster: ClusterNode, logger: Logger,
         onEnd: @escaping @Sendable (RoomFollower) -> Void) {
        self.channel = channel
        self.leader = leader
        allowsGuests = configuration.allowsAnonymous
        syncTargets = configuration.syncTargets
        latencyBound = configuration.maxDisplayLatency
        self.cluster = cluster
        self.logger = logger
        self.onEnd = onEnd
        (wakeups, wakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (holdingStarts, holdingStarted) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    private var base: String { "\(leader.address)/cluster/room/\(channel)/link" }
    private var query: String {
        "node=\(cluster.id.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? "")"
    }

    /// Opens the link and waits (at most `timeout`) for the room's node to say it is ready.
    func start(timeout: Duration = .seconds(3)) async throws {
        let (ready, readySignal) = AsyncStream.makeStream(of: Result<Void, any Error>.self)
        let reader = Task { await self.read(signal: readySignal) }
        let watchdog = Task {
            try? await Task.sleep(for: timeout)
            readySignal.yield(.failure(LinkError.notReady))
        }
        defer { watchdog.cancel() }
        var result: Result<Void, any Error> = .failure(LinkError.notReady)
        for await outcome in ready {
            result = outcome
            break
        }
        if case let .failure(error) = result {
            reader.cancel()
            throw error
        }
        let sender = Task { await self.send() }
        let releaser = Task { await self.release() }
        tasks.withLock { $0 = [reader, sender, releaser] }
    }

    /// Ends the link and closes every client here.
    func stop() {
        end(reason: nil)
    }

    // MARK: The gateway's calls

    /// Adds a client; its `hello` (and what it missed after `lastSeq`) comes from the room's node.
    func connect(_ identity: Identity, lastSeq: UInt64?, channel socket: any NIOCore.Channel,
                 ended: AsyncStream<Void>.Continuation) -> ClientConnection {
        let number = nextNumber.wrappingAdd(1, ordering: .relaxed).newValue
        let connection = ClientConnection(id: number, identity: identity, channel: socket, ended: ended)
        let accepted = state.withLock { state -> Bool in
            guard !state.ended else { return false }
            state.waiting[number] = connection
            state.outbox.append(RoomLinkEvent(kind: .connect, connection: number, identity: identity, lastSeq: lastSeq))
            return true
        }
        if accepted { wakeup.yield() } else { connection.close() }
        return connection
    }

    func disconnect(_ connection: ClientConnection) {
        let known = state.withLock { state -> Bool in
            let waiting = state.waiting.removeValue(forKey: connection.id) != nil
            let delivered = state.delivery.contains(connection.id)
            state.delivery.remove(connection.id, dropping: false)
            guard waiting || delivered, !state.ended else { return false }
            state.outbox.append(RoomLinkEvent(kind: .disconnect, connection: connection.id))
            return true
        }
        if known { wakeup.yield() }
    }

    func handle(_ request: ClientRequest, text: String, sender: ClientConnection) {
        switch request.message {
        case let .ping(ping):
            sendDirect(ServerEnvelope(id: request.id, .pong(.init(serverTime: Timestamp(Date()), clientTime: ping.clientTime))), to: sender)
            return
        case let .sync(report):
            sender.update(report, bound: latencyBound)
        default:
            break
        }
        post(RoomLinkEvent(kind: .request, connection: sender.id, text: text))
    }

    func sendDirect(_ envelope: ServerEnvelope, to connection: ClientConnection) {
        if let bytes = ClientConnection.frame(envelope) { connection.send(bytes) }
    }

    /// Asks the room's node to rebuild the room (its settings changed); the link then ends and clients reconnect.
    func reload() {
        post(RoomLinkEvent(kind: .reload, connection: 0))
    }

    /// Tells the room's node a broadcast of the channel began or ended here.
    func broadcast(_ id: String, began: Bool, at: Date) {
        post(RoomLinkEvent(kind: began ? .broadcastBegan : .broadcastEnded, connection: 0, broadcast: id, at: at.timeIntervalSince1970))
    }

    /// Sends `goaway` to every client here, past any hold.
    func goAway(_ envelope: ServerEnvelope) {
        guard let frame = ClientConnection.frame(envelope) else { return }
        state.withLock { $0.delivery.sendToAll(frame) }
    }

    private func post(_ event: RoomLinkEvent) {
        let queued = state.withLock { state -> Bool? in
            guard !state.ended else { return false }
            guard state.outbox.count < Self.outboxLimit else { return nil }
            state.outbox.append(event)
            return true
        }
        switch queued {
        case true?: wakeup.yield()
        case nil: end(reason: LinkError.behind)
        case false?: break
        }
    }

    /// Closes the clients here whose identity matches (their tokens were revoked).
    func expel(where predicate: @escaping @Sendable (Identity) -> Bool) {
        state.withLock { $0.delivery.expel(where: predicate) }
    }

    /// Clients of the room connected here.
    var viewerCount: Int { state.withLock { $0.delivery.peers.count + $0.waiting.count } }

    // MARK: The link

    private func read(signal: AsyncStream<Result<Void, any Error>>.Continuation) async {
        var request = HTTPClientRequest(url: "\(base)?\(query)")
        request.headers.add(name: "Authorization", value: "Bearer \(cluster.relayToken)")
        var failure: (any Error)?
        do {
            let response = try await cluster.client.execute(request, deadline: .distantFuture, logger: logger)
            guard response.status == .ok else { throw LinkError.refused(Int(response.status.code)) }
            var pending = ByteBuffer()
            for try await chunk in response.body {
                var chunk = chunk
                pending.writeBuffer(&chunk)
                while let record = try RoomLinkCodec.decode(from: &pending) {
                    if case let .ready(epoch) = record {
                        state.withLock { $0.epoch = epoch }
                        signal.yield(.success(()))
                        wakeup.yield()
                    } else {
                        take(record)
                    }
                }
                if pending.readableBytes == 0 { pending.clear() } else if pending.readerIndex > 1 << 20 { pending.discardReadBytes() }
                if Task.isCancelled { break }
            }
            throw LinkError.closed
        } catch {
            failure = error
        }
        signal.yield(.failure(failure ?? LinkError.closed))
        end(reason: failure)
    }

    private func take(_ record: RoomLinkRecord) {
        let now = Timestamp(Date()).unixMilliseconds
        let startsHolding = state.withLock { state -> Bool in
            let wasHolding = state.delivery.isHolding
            switch record {
            case let .broadcast(audience, cue, frame):
                state.delivery.deliver(frame, to: audience, cue: cue, now: now)
            case let .direct(number, cue, frame):
                if let connection = state.waiting.removeValue(forKey: number) { state.delivery.add(connection) }
                state.delivery.send(frame, cue: cue, to: number, now: now)
            case let .close(number, dropped):
                if let connection = state.waiting.removeValue(forKey: number) { connection.close() }
                state.delivery.remove(number, dropping: dropped)
            case .ready, .heartbeat:
                break
            }
            return !wasHolding && state.delivery.isHolding
        }
        if startsHolding { holdingStarted.yield() }
    }

    /// Streams the queued events up one long request (``RoomLinkCodec``'s records, a heartbeat every 2 s), taking
    /// whatever queued while the previous lines were handed over.
    private func send() async {
        guard let epoch = state.withLock({ $0.epoch }) else { return }
        let (body, feed) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingOldest(Self.chunksInFlight))
        let poster = Task {
            do {
                var request = HTTPClientRequest(url: "\(base)/events?\(query)&epoch=\(epoch)")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(cluster.relayToken)")
                request.headers.add(name: "Content-Type", value: "application/vnd.liveloop.room-link-events")
                request.body = .stream(body, length: .unknown)
                let response = try await cluster.client.execute(request, deadline: .distantFuture, logger: logger)
                throw response.status == .noContent ? LinkError.closed : LinkError.refused(Int(response.status.code))
            } catch {
                end(reason: error)
            }
        }
        let beats = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.heartbeat)
                var beat = ByteBuffer()
                RoomLinkCodec.heartbeat(into: &beat)
                feed.yield(beat)
            }
        }
        defer {
            beats.cancel()
            feed.finish()
        }
        for await _ in wakeups {
            while true {
                let batch = state.withLock { state -> [RoomLinkEvent] in
                    guard !state.ended, !state.outbox.isEmpty else { return [] }
                    let count = min(state.outbox.count, Self.batchLimit)
                    defer { state.outbox.removeFirst(count) }
                    return Array(state.outbox.prefix(count))
                }
                guard !batch.isEmpty else { break }
                var records = ByteBuffer()
                for event in batch { RoomLinkCodec.encode(event, into: &records) }
                if case .dropped = feed.yield(records) {
                    end(reason: LinkError.behind)
                    poster.cancel()
                    return
                }
            }
        }
        poster.cancel()
    }

    /// Releases frames held for viewers' playheads, every 5 ms while some are held.
    private func release() async {
        for await _ in holdingStarts {
            var holding = true
            while holding, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(5))
                let now = Timestamp(Date()).unixMilliseconds
                holding = state.withLock { state in
                    state.delivery.release(now: now)
                    return state.delivery.isHolding
                }
            }
        }
    }

    private func end(reason: (any Error)?) {
        let first = state.withLock { state -> Bool in
            defer { state.ended = true }
            guard !state.ended else { return false }
            for connection in state.waiting.values { connection.close() }
            state.waiting.removeAll()
            state.delivery.closeAll()
            state.outbox.removeAll()
            return true
        }
        guard first else { return }
        if let reason {
            logger.warning("room link to the room's node ended; its clients here reconnect", metadata: [
                "channel": "\(channel)", "node": "\(leader.node)", "error": "\(reason)",
            ])
        }
        wakeup.finish()
        holdingStarted.finish()
        for task in tasks.withLock({ $0 }) { task.cancel() }
        onEnd(self)
    }
}
