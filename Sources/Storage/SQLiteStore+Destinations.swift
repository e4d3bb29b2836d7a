import Foundation
import GRDB

/// A stream key for another platform: stored as given (it must be sent to push there), shown only masked. Its
/// `description` is the masked form, so interpolating it into a log line or an error never prints the key.
public struct DestinationKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The key itself: only for the RTMP `publish` command.
    public let revealed: String

    public init(_ key: String) { revealed = key }

    /// The last four characters of a key of 12 or more, and nothing of a shorter one: enough for a host to tell two
    /// keys apart, never enough to use one.
    public var masked: String {
        revealed.count >= 12 ? "••••" + revealed.suffix(4) : "••••"
    }

    public var description: String { masked }
    public var debugDescription: String { masked }
}

/// Where a channel's broadcast is also pushed (multistream): an RTMP or RTMPS ingest URL of another platform and the
/// stream key it gave. Pushed while the channel is live and the destination is enabled.
public struct Destination: Sendable, Equatable {
    public var id: String
    public var channel: String
    /// The host's label for it ("YouTube", "Twitch backup").
    public var name: String
    /// `rtmp://host[:port]/app` or `rtmps://…`, without the key.
    public var url: String
    public var key: DestinationKey
    public var enabled: Bool
    public var createdAt: Date
}

/// A channel has as many destinations as the server allows already.
public struct DestinationLimitReached: Error, Equatable, Sendable, CustomStringConvertible {
    public var limit: Int
    public var description: String { "this channel has \(limit) destinations already, the most this server allows; delete one first" }
}

extension SQLiteStore {
    static func registerDestinations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("destinations v1") { db in
            try db.create(table: "destinations") { t in
                t.primaryKey("id", .text)
                t.column("channel", .text).notNull().indexed().references("channel", column: "name", onDelete: .cascade)
                t.column("name", .text).notNull()
                t.column("url", .text).notNull()
                t.column("stream_key", .text).notNull()
                t.column("enabled", .boolean).notNull()
                t.column("created_at", .double).notNull()
            }
        }
    }

    /// Adds a destination to `channel` unless it has `limit` already (``DestinationLimitReached``) or does not exist
    /// (`StoreError.channelNotFound`).
    public func createDestination(channel: String, name: String, url: String, key: String, enabled: Bool, limit: Int,
                                  now: Date = Date()) async throws -> Destination {
        let destination = Destination(id: Secrets.generateID(prefix: "ds_"), channel: channel, name: name, url: url,
                                      key: DestinationKey(key), enabled: enabled, createdAt: now)
        try await pool.write { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM channel WHERE name = ?", arguments: [channel]) != nil else {
                throw StoreError.channelNotFound(channel)
            }
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM destinations WHERE channel = ?", arguments: [channel]) ?? 0
            guard count < limit else { throw DestinationLimitReached(limit: limit) }
            try db.execute(
                sql: "INSERT INTO destinations (id, channel, name, url, stream_key, enabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [destination.id, channel, name, url, key, enabled, now.timeIntervalSince1970]
            )
        }
        return destination
    }

    /// A channel's destinations, oldest first.
    public func destinations(channel: String) async throws -> [Destination] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM destinations WHERE channel = ? ORDER BY created_at, id", arguments: [channel])
                .map(Self.destination)
        }
    }

    public func destination(id: String, channel: String) async throws -> Destination? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM destinations WHERE id = ? AND channel = ?", arguments: [id, channel])
                .map(Self.destination)
        }
    }

    /// Turns a destination on or off; nil when the channel has no such destination.
    public func setDestination(id: String, channel: String, enabled: Bool) async throws -> Destination? {
        try await pool.write { db in
            try db.execute(sql: "UPDATE destinations SET enabled = ? WHERE id = ? AND channel = ?", arguments: [enabled, id, channel])
            guard db.changesCount > 0 else { return nil }
            return try Row.fetchOne(db, sql: "SELECT * FROM destinations WHERE id = ?", arguments: [id]).map(Self.destination)
        }
    }

    /// Removes a destination; false when the channel had none by that id.
    public func deleteDestination(id: String, channel: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM destinations WHERE id = ? AND channel = ?", arguments: [id, channel])
            return db.changesCount > 0
        }
    }

    private static func destination(_ row: Row) -> Destination {
        Destination(id: row["id"], channel: row["channel"], name: row["name"], url: row["url"],
                    key: DestinationKey(row["stream_key"]), enabled: row["enabled"],
                    createdAt: Date(timeIntervalSince1970: row["created_at"]))
    }
}
