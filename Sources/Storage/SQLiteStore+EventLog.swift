import Foundation
import GRDB

/// The event log in SQLite: the `event` table and one checkpoint row per room. Every call goes through GRDB's async
/// API, which runs it on the database's own dispatch queues, never on the cooperative pool.
extension SQLiteStore: EventLog {
    static func registerCheckpoints(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("room checkpoints v1") { db in
            try db.create(table: "roomCheckpoint") { t in
                t.primaryKey("channel", .text)
                t.column("throughId", .integer).notNull()
                t.column("body", .blob).notNull()
            }
        }
    }

    @discardableResult
    public func appendEvents(_ batch: [(channel: String, payload: Data)]) async throws -> [String: Int64] {
        guard !batch.isEmpty else { return [:] }
        let now = Date().timeIntervalSince1970
        return try await pool.write { db in
            let statement = try db.cachedStatement(sql: "INSERT INTO event (channel, payload, at) VALUES (?, ?, ?)")
            var last: [String: Int64] = [:]
            for (channel, payload) in batch {
                try statement.execute(arguments: [channel, payload, now])
                last[channel] = db.lastInsertedRowID
            }
            return last
        }
    }

    public func roomLog(channel: String) async throws -> RoomLog {
        try await pool.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT throughId, body FROM roomCheckpoint WHERE channel = ?", arguments: [channel])
            let through: Int64 = row?["throughId"] ?? 0
            let records = try Data.fetchAll(
                db, sql: "SELECT payload FROM event WHERE channel = ? AND id > ? ORDER BY id", arguments: [channel, through])
            let lastID = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM event WHERE channel = ?", arguments: [channel]) ?? 0
            return RoomLog(checkpoint: row?["body"], checkpointThrough: through, records: records, lastID: lastID)
        }
    }

    public func records(channel: String, after: Int64) async throws -> [Data] {
        try await pool.read { db in
            try Data.fetchAll(db, sql: "SELECT payload FROM event WHERE channel = ? AND id > ? ORDER BY id", arguments: [channel, after])
        }
    }

    public func saveCheckpoint(channel: String, through: Int64, body: Data) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                INSERT INTO roomCheckpoint (channel, throughId, body) VALUES (?, ?, ?)
                ON CONFLICT(channel) DO UPDATE SET throughId = excluded.throughId, body = excluded.body
                WHERE excluded.throughId > roomCheckpoint.throughId
                """,
                arguments: [channel, through, body])
        }
    }

    public func deleteEvents(channel: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM event WHERE channel = ?", arguments: [channel])
            try db.execute(sql: "DELETE FROM roomCheckpoint WHERE channel = ?", arguments: [channel])
        }
    }
}
