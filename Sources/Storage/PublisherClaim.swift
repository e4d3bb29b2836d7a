import Foundation
import GRDB

/// Which node holds a channel's publisher, so the other nodes that share the database relay the broadcast from it
/// (origin → edge) instead of refusing their viewers, and refuse a second publisher. A claim lives while its node
/// renews it (every few seconds); one whose heartbeat is older than the holder's time-to-live is stale, and any node
/// may take the channel over (its node died without releasing it).
public struct PublisherClaim: Sendable, Equatable {
    public var channel: String
    /// The holder's `--node-id`.
    public var node: String
    /// Where the other nodes reach the holder's HTTP port (`--node-address`), e.g. `http://10.0.0.5:8080`.
    public var address: String
    public var heartbeatAt: Date

    public init(channel: String, node: String, address: String, heartbeatAt: Date) {
        self.channel = channel
        self.node = node
        self.address = address
        self.heartbeatAt = heartbeatAt
    }

    /// Whether the claim still holds at `now` for a time-to-live of `ttl` seconds.
    public func isFresh(at now: Date, ttl: TimeInterval) -> Bool { now.timeIntervalSince(heartbeatAt) < ttl }
}

extension SQLiteStore {
    static func registerPublisherClaims(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("publisher claims v1") { db in
            try db.create(table: "publisher_claim") { t in
                t.primaryKey("channel", .text).references("channel", column: "name", onDelete: .cascade)
                t.column("node", .text).notNull()
                t.column("address", .text).notNull()
                t.column("heartbeat_at", .double).notNull()
            }
        }
    }

    /// Claims `channel` for `node`: nil when it is now this node's, or the other node's claim that still holds.
    public func claimPublisher(channel: String, node: String, address: String, now: Date, ttl: TimeInterval) async throws -> PublisherClaim? {
        try await pool.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM publisher_claim WHERE channel = ?", arguments: [channel]) {
                let held = Self.claim(row)
                if held.node != node, held.isFresh(at: now, ttl: ttl) { return held }
            }
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM channel WHERE name = ?", arguments: [channel]) != nil else {
                throw StoreError.channelNotFound(channel)
            }
            try db.execute(sql: """
                INSERT INTO publisher_claim (channel, node, address, heartbeat_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (channel) DO UPDATE SET node = excluded.node, address = excluded.address, heartbeat_at = excluded.heartbeat_at
                """, arguments: [channel, node, address, now.timeIntervalSince1970])
            return nil
        }
    }

    public func refreshPublisherClaims(node: String, now: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE publisher_claim SET heartbeat_at = ? WHERE node = ?", arguments: [now.timeIntervalSince1970, node])
        }
    }

    public func releasePublisher(channel: String, node: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM publisher_claim WHERE channel = ? AND node = ?", arguments: [channel, node])
        }
    }

    public func publisherClaim(channel: String) async throws -> PublisherClaim? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM publisher_claim WHERE channel = ?", arguments: [channel]).map(Self.claim)
        }
    }

    private static func claim(_ row: Row) -> PublisherClaim {
        PublisherClaim(channel: row["channel"], node: row["node"], address: row["address"],
                       heartbeatAt: Date(timeIntervalSince1970: row["heartbeat_at"]))
    }
}
