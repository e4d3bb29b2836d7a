import Foundation
import NIOCore
import PostgresNIO

/// The analytics reads of the event log in PostgreSQL, with `SQLiteStore`'s semantics: records by kind (their
/// payload's first bytes) and ranges of records by id, per channel, oldest first. No migration of its own: it reads
/// the `event` table of "event log v1".
extension PostgresStore {
    public func eventRows(channel: String, startingWith prefixes: [Data], before: Int64?) async throws -> [EventRow] {
        guard !prefixes.isEmpty else { return [] }
        let wanted = prefixes.map { ByteBuffer(bytes: $0) }
        // All prefixes in one array parameter: a record matches when its payload begins with any of them.
        let rows: PostgresRowSequence
        if let before {
            rows = try await client.query("""
                SELECT id, payload FROM event WHERE channel = \(channel) AND id < \(before)
                AND EXISTS (SELECT 1 FROM unnest(\(wanted)::bytea[]) AS p(prefix) WHERE substr(payload, 1, length(prefix)) = prefix)
                ORDER BY id
                """, logger: logger)
        } else {
            rows = try await client.query("""
                SELECT id, payload FROM event WHERE channel = \(channel)
                AND EXISTS (SELECT 1 FROM unnest(\(wanted)::bytea[]) AS p(prefix) WHERE substr(payload, 1, length(prefix)) = prefix)
                ORDER BY id
                """, logger: logger)
        }
        return try await Self.eventRows(rows)
    }

    public func eventRows(channel: String, from: Int64, until: Int64?) async throws -> [EventRow] {
        let rows: PostgresRowSequence
        if let until {
            rows = try await client.query(
                "SELECT id, payload FROM event WHERE channel = \(channel) AND id >= \(from) AND id < \(until) ORDER BY id",
                logger: logger)
        } else {
            rows = try await client.query(
                "SELECT id, payload FROM event WHERE channel = \(channel) AND id >= \(from) ORDER BY id", logger: logger)
        }
        return try await Self.eventRows(rows)
    }

    private static func eventRows(_ rows: PostgresRowSequence) async throws -> [EventRow] {
        var found: [EventRow] = []
        for try await (id, payload) in rows.decode((Int64, Data).self) { found.append(EventRow(id: id, payload: payload)) }
        return found
    }
}
