import Foundation
import GRDB

// MARK: Channel video settings

extension SQLiteStore {
    static func registerChannelVideo(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("channel video v1") { db in
            try db.create(table: "channelVideo") { t in
                t.primaryKey("channel", .text).references("channel", column: "name", onDelete: .cascade)
                t.column("body", .blob).notNull()
            }
        }
    }

    /// A channel's video settings; the defaults (source only, not recorded) when none were saved.
    public func videoSettings(channel: String) throws -> ChannelVideoSettings {
        let body = try pool.read { db in
            try Data.fetchOne(db, sql: "SELECT body FROM channelVideo WHERE channel = ?", arguments: [channel])
        }
        guard let body else { return ChannelVideoSettings() }
        return try JSONDecoder().decode(ChannelVideoSettings.self, from: body)
    }

    /// Saves a channel's video settings. Throws `channelNotFound` for a channel that does not exist.
    public func saveVideoSettings(channel: String, _ settings: ChannelVideoSettings) throws {
        let body = try JSONEncoder().encode(settings)
        try pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM channel WHERE name = ?", arguments: [channel]) != nil else {
                throw StoreError.channelNotFound(channel)
            }
            try db.execute(
                sql: "INSERT INTO channelVideo (channel, body) VALUES (?, ?) ON CONFLICT(channel) DO UPDATE SET body = excluded.body",
                arguments: [channel, body]
            )
        }
    }
}
