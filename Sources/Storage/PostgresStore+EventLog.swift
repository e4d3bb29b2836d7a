import Foundation
import NIOCore
import PostgresNIO

/// The event log in PostgreSQL: `event` rows (one `INSERT … SELECT FROM unnest(…)` per batch, so a group commit is
/// one statement) and one `room_checkpoint` row per room.
extension PostgresStore {
    @discardableResult
    public func appendEvents(_ batch: [(channel: String, payload: Data)]) async throws -> [String: Int64] {
        guard !batch.isEmpty else { return [:] }
        let channels = batch.map(\.channel)
        let payloads = batch.map { ByteBuffer(bytes: $0.payload) }
        let now = Date().timeIntervalSince1970
        // unnest … WITH ORDINALITY keeps the batch's order in the ids.
        let rows = try await client.query("""
            INSERT INTO event (channel, payload, at)
            SELECT c, p, \(now) FROM unnest(\(channels)::text[], \(payloads)::bytea[]) WITH ORDINALITY AS b(c, p, n) ORDER BY n
            RETURNING id, channel
            """, logger: logger)
        var last: [String: Int64] = [:]
        for try await (id, channel) in rows.decode((Int64, String).self) {
            last[channel] = max(last[channel] ?? 0, id)
        }
        return last
    }

    public func roomLog(channel: String) async throws -> RoomLog {
        try await client.withConnection { connection in
            var checkpoint: Data?
            var through: Int64 = 0
            let stored = try await connection.query(
                "SELECT through_id, body FROM room_checkpoint WHERE channel = \(channel)", logger: logger)
            for try await (id, body) in stored.decode((Int64, Data).self) {
                through = id
                checkpoint = body
            }
            var records: [Data] = []
            var lastID = through
            let tail = try await connection.query(
                "SELECT id, payload FROM event WHERE channel = \(channel) AND id > \(through) ORDER BY id", logger: logger)
            for try await (id, payload) in tail.decode((Int64, Data).self) {
                records.append(payload)
                lastID = id
            }
            return RoomLog(checkpoint: checkpoint, checkpointThrough: through, records: records, lastID: lastID)
        }
    }

    public func records(channel: String, after: Int64) async throws -> [Data] {
        var records: [Data] = []
        let rows = try await client.query(
            "SELECT payload FROM event WHERE channel = \(channel) AND id > \(after) ORDER BY id", logger: logger)
        for try await payload in rows.decode(Data.self) { records.append(payload) }
        return records
    }

    public func saveCheckpoint(channel: String, through: Int64, body: Data) async throws {
        try await client.query("""
            INSERT INTO room_checkpoint (channel, through_id, body) VALUES (\(channel), \(through), \(body))
            ON CONFLICT (channel) DO UPDATE SET through_id = excluded.through_id, body = excluded.body
            WHERE excluded.through_id > room_checkpoint.through_id
            """, logger: logger)
    }

    public func deleteEvents(channel: String) async throws {
        try await transaction { connection in
            try await connection.query("DELETE FROM event WHERE channel = \(channel)", logger: logger)
            try await connection.query("DELETE FROM room_checkpoint WHERE channel = \(channel)", logger: logger)
        }
    }
}
