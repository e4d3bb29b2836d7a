import Foundation
import HTTPTypes
import Interaction
import Logging
import NIOCore
import Storage
import Synchronization

/// The rooms by channel, created on first use and rebuilt from the event log, so a restart keeps results, history,
/// questions, scores and bans.
///
/// It also closes the open connections of revoked tokens: `sweepRevocations()` reads the revocations stored since the
/// last sweep (by the API at once, by `liveloop tokens revoke` in another process within `revocationSweepInterval`)
/// and expels the matching connections from every loaded room.
///
/// In a cluster (docs/cluster.md) a room lives on one node: the first node to load it claims it in the database, and
/// the others follow it (``RoomFollower``): their clients' requests go to that node, its broadcasts come back once per
/// node. A node whose claim holder refuses the link (it died, or restarted without the room) takes the room over and
/// rebuilds it from the log.
public final class RoomRegistry: Sendable {
    private let rooms = Mutex<[String: LoadedRoom]>([:])
    private let cluster: ClusterNode?
    private let loading = Mutex<[String: Task<LoadedRoom?, any Error>]>([:])
    private let lastRevocation = Mutex<Int64>(0)
    private let watcher = Mutex<Task<Void, Never>?>(nil)

    /// How often the store is asked for revocations made elsewhere (the CLI).
    static let revocationSweepInterval: Duration = .seconds(2)
    private let store: any Store
    let log: GroupCommitLog
    private let eventLog: any EventLog
    /// Committed records between two checkpoints of a room.
    private let checkpointInterval: Int
    private let logger: Logger
    private let timeline: (any CueTimeline)?
    let metrics: InteractionMetrics?
    private let onCommitted: @Sendable (String, RoomUpdate) -> Void
    /// The id of the channel's broadcast in progress (a rebuilt room samples its audience for it), nil when off air.
    private let liveBroadcast: @Sendable (String) -> String?

    init(store: any Store, logger: Logger, cluster: ClusterNode? = nil, timeline: (any CueTimeline)? = nil, metrics: InteractionMetrics? = nil,
         checkpointInterval: Int = RoomHost.defaultCheckpointInterval,
         onCommitted: @escaping @Sendable (String, RoomUpdate) -> Void = { _, _ in },
         liveBroadcast: @escaping @Sendable (String) -> String? = { _ in nil }) {
        self.timeline = timeline
        self.cluster = cluster
        self.onCommitted = onCommitted
        self.liveBroadcast = liveBroadcast
        self.store = store
        self.metrics = metrics
        self.eventLog = store
        self.checkpointInterval = checkpointInterval
        if let metrics {
            self.log = GroupCommitLog(log: store) { latency, failed in metrics.committed(after: latency, failed: failed) }
        } else {
            self.log = GroupCommitLog(log: store)
        }
        self.logger = logger
        let task = Task { [weak self, store] in
            // Until this read, a sweep starts from the first revocation: it only expels more that are revoked.
            if let latest = try? await store.latestRevocationID() { self?.lastRevocation.withLock { $0 = max($0, latest) } }
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.revocationSweepInterval)
                guard let self else { return }
                await self.sweepRevocations()
            }
        }
        watcher.withLock { $0 = task }
    }

    deinit {
        watcher.withLock { $0?.cancel() }
    }

    /// Closes the connections of tokens revoked since the last sweep.
    public func sweepRevocations() async {
        let after = lastRevocation.withLock { $0 }
        guard let fresh = try? await store.revocations(after: after), let newest = fresh.last?.id else { return }
        lastRevocation.withLock { $0 = max($0, newest) }
        let loaded = rooms.withLock { $0 }
        for (channel, room) in loaded {
            room.expel { identity in
                guard let credential = identity.credential else { return false }
                let issued = Date(timeIntervalSince1970: credential.issuedAt)
                return fresh.contains { $0.covers(jti: credential.tokenID, sub: identity.sub, channel: channel, issuedAt: issued) }
            }
        }
    }

    /// The room of an existing channel on this node, or nil when there is no such channel; 503 when the room's node
    /// is another one (for callers that need the room itself).
    public func room(for channelName: String) async throws -> RoomHost? {
        switch try await resolve(channelName) {
        case nil: return nil
        case let .led(host): return host
        case .followed: throw APIError(.serviceUnavailable, code: "unavailable", message: "the room of \"\(channelName)\" is on another node")
        }
    }

    /// The room of an existing channel, here or followed from its node; nil when there is no such channel. A room not
    /// loaded yet is rebuilt from its newest checkpoint and the records after it (all of them when it has none).
    func resolve(_ channelName: String) async throws -> LoadedRoom? {
        if let loaded = rooms.withLock({ $0[channelName] }) { return loaded }
        // One load per channel at a time: the clients that arrive meanwhile wait for it (a burst of first clients
        // must not open a room link each, nor rebuild the room more than once).
        let task = loading.withLock { loading -> Task<LoadedRoom?, any Error> in
            if let running = loading[channelName] { return running }
            let task = Task { try await self.load(channelName) }
            loading[channelName] = task
            return task
        }
        defer { loading.withLock { loading in if loading[channelName] == task { loading[channelName] = nil } } }
        return try await task.value
    }

    private func load(_ channelName: String) async throws -> LoadedRoom? {
        if let loaded = rooms.withLock({ $0[channelName] }) { return loaded }
        // The store keeps its reads off the cooperative pool (SQLite blocks).
        guard let channel = try await store.channel(named: channelName) else { return nil }
        let settingsBody = try await store.channelSettings(channel: channelName)
        let decoder = JSONDecoder()
        let settings = settingsBody.flatMap { try? decoder.decode(ChannelSettings.self, from: $0) }
        let runsQuizzes = ChannelSettings.runsQuizzes(rundown: try await store.rundown(channel: channelName))
        let configuration = (settings ?? ChannelSettings()).roomConfiguration(allowAnonymousDefault: channel.allowAnonymous,
                                                                              runsQuizzes: runsQuizzes)
        if let cluster, let followed = try await follow(channelName, configuration: configuration, cluster: cluster) {
            return followed
        }
        let (room, lastID, uncheckpointed) = try await Self.restore(channelName, configuration: configuration, from: eventLog, logger: logger)
        var adopted = room
        adopted.adoptBroadcast(liveBroadcast(channelName))
        let interval = checkpointInterval
        return rooms.withLock { rooms in
            if let existing = rooms[channelName] { return existing }
            let host = RoomHost(channel: channelName, room: adopted, log: log, eventLog: eventLog, logger: logger,
                                timeline: timeline, metrics: metrics, lastID: lastID, uncheckpointed: uncheckpointed,
                                checkpointInterval: interval, onCommitted: onCommitted) { [weak self] in
                self?.remove(channelName)
            }
            rooms[channelName] = .led(host)
            return .led(host)
        }
    }

    /// Claims the room for this node (nil: it leads the room), or follows the node whose claim holds it. A holder that
    /// does not open the link is taken to be gone: the room is taken from it (unless another node did first: that one
    /// is followed then).
    private func follow(_ channelName: String, configuration: RoomConfiguration, cluster: ClusterNode) async throws -> LoadedRoom? {
        var holder = try await cluster.claimRoom(channelName)
        for _ in 0..<3 {
            guard let current = holder else { return nil }
            let follower = RoomFollower(channel: channelName, leader: current, configuration: configuration, cluster: cluster,
                                        logger: logger) { [weak self] ended in self?.forget(channelName, ended) }
            do {
                try await follower.start()
            } catch {
                logger.warning("the room's node did not open a room link; taking the room over", metadata: [
                    "channel": "\(channelName)", "node": "\(current.node)", "error": "\(error)",
                ])
                follower.stop()
                holder = try await cluster.claimRoom(channelName, replacing: current)
                continue
            }
            let (loaded, ours) = rooms.withLock { rooms -> (LoadedRoom, Bool) in
                if let existing = rooms[channelName] { return (existing, false) }
                rooms[channelName] = .followed(follower)
                return (.followed(follower), true)
            }
            if ours {
                logger.info("following the room on its node", metadata: ["channel": "\(channelName)", "node": "\(current.node)"])
            } else {
                follower.stop()
            }
            return loaded
        }
        throw APIError(.serviceUnavailable, code: "unavailable", message: "the room's node cannot be reached; try again")
    }

    /// Forgets a followed room whose link ended (the next client finds the room's node again).
    private func forget(_ channelName: String, _ follower: RoomFollower) {
        rooms.withLock { rooms in
            if case let .followed(current) = rooms[channelName], current === follower { rooms[channelName] = nil }
        }
    }

    /// Rebuilds a room from the log: its checkpoint, then the records after it. Returns the room, the id of its
    /// newest record and how many records it replayed (the next checkpoint comes that much sooner).
    static func restore(_ channel: String, configuration: RoomConfiguration, from log: any EventLog,
                        logger: Logger) async throws -> (Room, lastID: Int64, replayed: Int) {
        let stored = try await log.roomLog(channel: channel)
        let decoder = JSONDecoder()
        let records = stored.records.compactMap { try? decoder.decode(Record.self, from: $0) }
        var unreadable = stored.records.count - records.count
        let startingSeq = Room.startingSeq(at: Timestamp(Date()))
        var result: (room: Room, skipped: Int)
        if let body = stored.checkpoint, let checkpoint = RoomCheckpoint.decode(body) {
            result = Room.restore(configuration: configuration, checkpoint: checkpoint, records: records, startingSeq: startingSeq)
        } else {
            if stored.checkpoint != nil {
                // A checkpoint this version cannot read: replay the whole log instead.
                logger.warning("ignoring an unreadable room checkpoint", metadata: ["channel": "\(channel)"])
                let all = try await log.records(channel: channel, after: 0)
                let every = all.compactMap { try? decoder.decode(Record.self, from: $0) }
                unreadable = all.count - every.count
                result = Room.restore(configuration: configuration, records: every, startingSeq: startingSeq)
                return (result.room, stored.lastID, every.count)
            }
            result = Room.restore(configuration: configuration, records: records, startingSeq: startingSeq)
        }
        let skipped = result.skipped + unreadable
        if skipped > 0 { logger.warning("skipped \(skipped) unreadable room records", metadata: ["channel": "\(channel)"]) }
        return (result.room, stored.lastID, records.count)
    }

    /// The room of a channel if it is loaded (here or followed); never loads one (for status pages that must not wake
    /// every room).
    func loadedRoom(for channelName: String) -> LoadedRoom? {
        rooms.withLock { $0[channelName] }
    }

    /// The room of a channel if this node is its room's node, loaded (rebuilt) if need be; nil when another node
    /// holds it or there is no such channel.
    func ledRoom(for channelName: String) async throws -> RoomHost? {
        switch rooms.withLock({ $0[channelName] }) {
        case let .led(host): return host
        case .followed: return nil
        case nil: break
        }
        guard cluster?.holdsRoom(channelName) == true, case let .led(host)? = try await resolve(channelName) else { return nil }
        return host
    }

    /// Open interaction connections per loaded room (for `/metrics`).
    public var connectionsPerRoom: [String: Int] {
        rooms.withLock { $0 }.mapValues(\.viewerCount)
    }

    /// Forgets a channel's room (the channel was deleted, or its settings changed: the next client rebuilds it). A
    /// followed room asks its node to do the same.
    public func remove(_ channel: String) {
        let removed = rooms.withLock { $0.removeValue(forKey: channel) }
        switch removed {
        case let .led(host):
            // The claim stays: this node rebuilds the room for the next client here or link from another node.
            host.stop()
        case let .followed(follower):
            follower.reload()
        case nil:
            break
        }
    }

    /// Sends `goaway` to every client of every room (a graceful shutdown has begun).
    public func goAwayAll(within window: Duration) {
        let envelope = ServerEnvelope(.goaway(ServerMessage.GoAway(reconnectWithinMs: Int(window.wholeMilliseconds))))
        for room in rooms.withLock({ Array($0.values) }) {
            switch room {
            case let .led(host): host.goAway(within: window)
            case let .followed(follower): follower.goAway(envelope)
            }
        }
    }

    public func stopAll() {
        watcher.withLock { $0?.cancel() }
        for room in rooms.withLock({ Array($0.values) }) {
            switch room {
            case let .led(host): host.stop()
            case let .followed(follower): follower.stop()
            }
        }
    }
}

/// A loaded room: this node's own, or another node's followed from here.
enum LoadedRoom: Sendable {
    case led(RoomHost)
    case followed(RoomFollower)

    var allowsGuests: Bool {
        switch self {
        case let .led(host): host.allowsGuests
        case let .followed(follower): follower.allowsGuests
        }
    }

    var syncTargets: SyncTargets {
        switch self {
        case let .led(host): host.syncTargets
        case let .followed(follower): follower.syncTargets
        }
    }

    /// Clients of the room connected to this node (all of them for the room's node: the others' clients join it too).
    var viewerCount: Int {
        switch self {
        case let .led(host): host.viewerCount
        case let .followed(follower): follower.viewerCount
        }
    }

    func connect(_ identity: Identity, lastSeq: UInt64?, channel: any NIOCore.Channel,
                 ended: AsyncStream<Void>.Continuation) throws(InteractionError) -> ClientConnection {
        switch self {
        case let .led(host): try host.connect(identity, lastSeq: lastSeq, channel: channel, ended: ended)
        case let .followed(follower): follower.connect(identity, lastSeq: lastSeq, channel: channel, ended: ended)
        }
    }

    func handle(_ request: ClientRequest, text: String, from identity: Identity, sender: ClientConnection) {
        switch self {
        case let .led(host): host.handle(request, from: identity, sender: sender)
        case let .followed(follower): follower.handle(request, text: text, sender: sender)
        }
    }

    func disconnect(_ connection: ClientConnection) {
        switch self {
        case let .led(host): host.disconnect(connection)
        case let .followed(follower): follower.disconnect(connection)
        }
    }

    func sendDirect(_ envelope: ServerEnvelope, to connection: ClientConnection) {
        switch self {
        case let .led(host): host.sendDirect(envelope, to: connection)
        case let .followed(follower): follower.sendDirect(envelope, to: connection)
        }
    }

    func expel(where predicate: @escaping @Sendable (Identity) -> Bool) {
        switch self {
        case let .led(host): host.expel(where: predicate)
        case let .followed(follower): follower.expel(where: predicate)
        }
    }
}
