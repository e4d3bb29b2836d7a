import Foundation
import Interaction
import Logging
import Storage
import Synchronization

/// The rooms by channel, created on first use and rebuilt from the event log, so a restart keeps results, history,
/// questions, scores and bans.
///
/// It also closes the open connections of revoked tokens: `sweepRevocations()` reads the revocations stored since the
/// last sweep (by the API at once, by `liveloop tokens revoke` in another process within `revocationSweepInterval`)
/// and expels the matching connections from every loaded room.
public final class RoomRegistry: Sendable {
    private let rooms = Mutex<[String: RoomHost]>([:])
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

    init(store: any Store, logger: Logger, timeline: (any CueTimeline)? = nil, metrics: InteractionMetrics? = nil,
         checkpointInterval: Int = RoomHost.defaultCheckpointInterval,
         onCommitted: @escaping @Sendable (String, RoomUpdate) -> Void = { _, _ in },
         liveBroadcast: @escaping @Sendable (String) -> String? = { _ in nil }) {
        self.timeline = timeline
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
        for (channel, host) in loaded {
            host.expel { identity in
                guard let credential = identity.credential else { return false }
                let issued = Date(timeIntervalSince1970: credential.issuedAt)
                return fresh.contains { $0.covers(jti: credential.tokenID, sub: identity.sub, channel: channel, issuedAt: issued) }
            }
        }
    }

    /// The room of an existing channel, or nil when there is no such channel. A room not loaded yet is rebuilt from
    /// its newest checkpoint and the records after it (all of them when it has none).
    public func room(for channelName: String) async throws -> RoomHost? {
        if let host = rooms.withLock({ $0[channelName] }) { return host }
        // The store keeps its reads off the cooperative pool (SQLite blocks).
        guard let channel = try await store.channel(named: channelName) else { return nil }
        let settingsBody = try await store.channelSettings(channel: channelName)
        let decoder = JSONDecoder()
        let settings = settingsBody.flatMap { try? decoder.decode(ChannelSettings.self, from: $0) }
        let runsQuizzes = ChannelSettings.runsQuizzes(rundown: try await store.rundown(channel: channelName))
        let configuration = (settings ?? ChannelSettings()).roomConfiguration(allowAnonymousDefault: channel.allowAnonymous,
                                                                              runsQuizzes: runsQuizzes)
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
            rooms[channelName] = host
            return host
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

    /// The room of a channel if it is loaded; never loads one (for status pages that must not wake every room).
    public func loadedRoom(for channelName: String) -> RoomHost? {
        rooms.withLock { $0[channelName] }
    }

    /// Open interaction connections per loaded room (for `/metrics`).
    public var connectionsPerRoom: [String: Int] {
        rooms.withLock { $0 }.mapValues(\.viewerCount)
    }

    /// Forgets a channel's room (the channel was deleted).
    public func remove(_ channel: String) {
        rooms.withLock { $0.removeValue(forKey: channel) }?.stop()
    }

    /// Sends `goaway` to every client of every room (a graceful shutdown has begun).
    public func goAwayAll(within window: Duration) {
        for host in rooms.withLock({ Array($0.values) }) { host.goAway(within: window) }
    }

    public func stopAll() {
        watcher.withLock { $0?.cancel() }
        for host in rooms.withLock({ Array($0.values) }) { host.stop() }
    }
}
