import Foundation
import GRDB

/// A stored interaction record with its position in the log (the analytics reads).
public typealias EventRow = SQLiteStore.EventRow

/// Reads of the event log for analytics: records by kind (their payload's first bytes) and ranges of records by id,
/// so a report decodes one broadcast's records, not the channel's whole history.
extension SQLiteStore {
    /// A stored record with its position in the log.
    public struct EventRow: Sendable, Hashable {
        public var id: Int64
        public var payload: Data
    }

    /// The records of a channel whose payload starts with one of `prefixes` (e.g. `{"broadcastStarted":`), oldest
    /// first; with `before`, only those with a smaller id.
    public func eventRows(channel: String, startingWith prefixes: [Data], before: Int64? = nil) throws -> [EventRow] {
        guard !prefixes.isEmpty else { return [] }
        let matches = prefixes.map { _ in "substr(payload, 1, ?) = ?" }.joined(separator: " OR ")
        var arguments: StatementArguments = [channel]
        for prefix in prefixes { arguments += [prefix.count, prefix] }
        var sql = "SELECT id, payload FROM event WHERE channel = ? AND (\(matches))"
        if let before {
            sql += " AND id < ?"
            arguments += [before]
        }
        return try pool.read { db in
            try Row.fetchAll(db, sql: sql + " ORDER BY id", arguments: arguments).map { EventRow(id: $0["id"], payload: $0["payload"]) }
        }
    }

    /// The records of a channel with `from <= id < until` (to the end without `until`), oldest first.
    public func eventRows(channel: String, from: Int64, until: Int64? = nil) throws -> [EventRow] {
        try pool.read { db in
            var sql = "SELECT id, payload FROM event WHERE channel = ? AND id >= ?"
            var arguments: StatementArguments = [channel, from]
            if let until {
                sql += " AND id < ?"
                arguments += [until]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY id", arguments: arguments).map { EventRow(id: $0["id"], payload: $0["payload"]) }
        }
    }
}
