import Foundation
import Interaction
import Logging
import Storage
import Synchronization

/// The rooms by channel, created on first use and rebuilt from the event log, so a restart keeps results, history,
/// questions, scores and bans.
public final class RoomRegistry: Sendable {
    private let rooms = Mutex<[String: RoomHost]>([:])
    private let store: SQLiteStore
    let log: GroupCommitLog
    private let logger: Logger
    private let timeline: (any CueTimeline)?

    init(store: SQLiteStore, logger: Logger, timeline: (any CueTimeline)? = nil) {
        self.timeline = timeline
        self.store = store
        self.log = GroupCommitLog(store: store)
        self.logger = logger
    }

    /// The room of an existing channel, or nil when there is no such channel.
    public func room(for channelName: String) throws -> RoomHost? {
        if let host = rooms.withLock({ $0[channelName] }) { return host }
        guard let channel = try store.channel(named: channelName) else { return nil }
        let decoder = JSONDecoder()
        let settings = try store.channelSettings(channel: channelName).flatMap { try? decoder.decode(ChannelSettings.self, from: $0) }
        let configuration = (settings ?? ChannelSettings()).roomConfiguration(allowAnonymousDefault: channel.allowAnonymous)
        let records = try store.events(channel: channelName).compactMap { try? decoder.decode(Record.self, from: $0) }
        let (room, skipped) = Room.restore(configuration: configuration, records: records, startingSeq: Room.startingSeq(at: Timestamp(Date())))
        if skipped > 0 { logger.warning("skipped \(skipped) unreadable room records", metadata: ["channel": "\(channelName)"]) }
        return rooms.withLock { rooms in
            if let existing = rooms[channelName] { return existing }
            let host = RoomHost(channel: channelName, room: room, log: log, logger: logger, timeline: timeline) { [weak self] in
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

    /// Forgets a channel's room (the channel was deleted).
    public func remove(_ channel: String) {
        rooms.withLock { $0.removeValue(forKey: channel) }?.stop()
    }

    public func stopAll() {
        for host in rooms.withLock({ Array($0.values) }) { host.stop() }
    }
}
