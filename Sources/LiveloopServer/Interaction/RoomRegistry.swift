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
    private let store: SQLiteStore
    let log: GroupCommitLog
    private let logger: Logger
    private let timeline: (any CueTimeline)?
    let metrics: InteractionMetrics?
    private let onCommitted: @Sendable (String, RoomUpdate) -> Void
    /// The id of the channel's broadcast in progress (a rebuilt room samples its audience for it), nil when off air.
    private let liveBroadcast: @Sendable (String) -> String?

    init(store: SQLiteStore, logger: Logger, timeline: (any CueTimeline)? = nil, metrics: InteractionMetrics? = nil,
         onCommitted: @escaping @Sendable (String, RoomUpdate) -> Void = { _, _ in },
         liveBroadcast: @escaping @Sendable (String) -> String? = { _ in nil }) {
        self.timeline = timeline
        self.onCommitted = onCommitted
        self.liveBroadcast = liveBroadcast
        self.store = store
        self.metrics = metrics
        if let metrics {
            self.log = GroupCommitLog(store: store) { latency, failed in metrics.committed(after: latency, failed: failed) }
        } else {
            self.log = GroupCommitLog(store: store)
        }
        self.logger = logger
        lastRevocation.withLock { $0 = (try? store.latestRevocationID()) ?? 0 }
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.revocationSweepInterval)
                guard let self else { return }
                self.sweepRevocations()
            }
        }
        watcher.withLock { $0 = task }
    }

    deinit {
        watcher.withLock { $0?.cancel() }
    }

    /// Closes the connections of tokens revoked since the last sweep.
    public func sweepRevocations() {
        let after = lastRevocation.withLock { $0 }
        guard let fresh = try? store.revocations(after: after), let newest = fresh.last?.id else { return }
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

    /// The room of an existing channel, or nil when there is no such channel.
    public func room(for channelName: String) throws -> RoomHost? {
        if let host = rooms.withLock({ $0[channelName] }) { return host }
        guard let channel = try store.channel(named: channelName) else { return nil }
        let decoder = JSONDecoder()
        let settings = try store.channelSettings(channel: channelName).flatMap { try? decoder.decode(ChannelSettings.self, from: $0) }
        let configuration = (settings ?? ChannelSettings()).roomConfiguration(allowAnonymousDefault: channel.allowAnonymous)
        let records = try store.events(channel: channelName).compactMap { try? decoder.decode(Record.self, from: $0) }
        var (room, skipped) = Room.restore(configuration: configuration, records: records, startingSeq: Room.startingSeq(at: Timestamp(Date())))
        room.adoptBroadcast(liveBroadcast(channelName))
        if skipped > 0 { logger.warning("skipped \(skipped) unreadable room records", metadata: ["channel": "\(channelName)"]) }
        return rooms.withLock { rooms in
            if let existing = rooms[channelName] { return existing }
            let host = RoomHost(channel: channelName, room: room, log: log, logger: logger, timeline: timeline,
                                metrics: metrics, onCommitted: onCommitted) { [weak self] in
                self?.remove(channelName)
            }
            rooms[channelName] = host
            return host
        }
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
