import Foundation
import GRDB

/// What a node claims of a channel among the nodes that share one database.
public enum ClaimKind: String, Sendable, CaseIterable {
    /// The channel's publisher: the other nodes relay the broadcast from the holder (origin → edge) and refuse a
    /// second publisher.
    case publisher
    /// The channel's room: the holder orders, commits and answers every request of the room; the other nodes forward
    /// their clients' requests to it and fan its broadcasts out to their own clients.
    case room

    /// The table of this kind's claims (one of two fixed names, never from input).
    var table: String {
        switch self {
        case .publisher: "publisher_claim"
        case .room: "room_claim"
        }
    }
}

/// Which node holds a channel's publisher or room (``ClaimKind``). A claim lives while its node renews it (every few
/// seconds); one whose heartbeat is older than the holder's time-to-live is stale, and any node may take the channel
/// over (its node died without releasing it).
public struct NodeClaim: Sendable, Equatable {
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
    static func registerNodeClaims(_ migrator: inout DatabaseMigrator) {
        @Sendable func create(_ kind: ClaimKind, _ db: Database) throws {
            try db.create(table: kind.table) { t in
                t.primaryKey("channel", .text).references("channel", column: "name", onDelete: .cascade)
                t.column("node", .text).notNull()
                t.column("address", .text).notNull()
                t.column("heartbeat_at", .double).notNull()
            }
        }
        migrator.registerMigration("publisher claims v1") { db in try create(.publisher, db) }
        migrator.registerMigration("room claims v1") { db in try create(.room, db) }
    }

    /// Claims `channel` (as `kind`) for `node`: nil when it is now this node's, or the other node's claim that still holds.
    public func takeClaim(_ kind: ClaimKind, channel: String, node: String, address: String, now: Date, ttl: TimeInterval) async throws -> NodeClaim? {
        try await pool.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM \(kind.table) WHERE channel = ?", arguments: [channel]) {
                let held = Self.claim(row)
                if held.node != node, held.isFresh(at: now, ttl: ttl) { return held }
            }
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM channel WHERE name = ?", arguments: [channel]) != nil else {
                throw StoreError.channelNotFound(channel)
            }
            try db.execute(sql: """
                INSERT INTO \(kind.table) (channel, node, address, heartbeat_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (channel) DO UPDATE SET node = excluded.node, address = excluded.address, heartbeat_at = excluded.heartbeat_at
                """, arguments: [channel, node, address, now.timeIntervalSince1970])
            return nil
        }
    }

    public func replaceClaim(_ kind: ClaimKind, channel: String, node: String, address: String, now: Date, replacing held: NodeClaim) async throws -> NodeClaim? {
        let replaced = try await pool.write { db -> NodeClaim?? in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM \(kind.table) WHERE channel = ?", arguments: [channel]) else { return .none }
            let current = Self.claim(row)
            guard current == held else { return .some(current.node == node ? nil : current) }
            try db.execute(sql: "UPDATE \(kind.table) SET node = ?, address = ?, heartbeat_at = ? WHERE channel = ?",
                           arguments: [node, address, now.timeIntervalSince1970, channel])
            return .some(nil)
        }
        if let replaced { return replaced }
        return try await takeClaim(kind, channel: channel, node: node, address: address, now: now, ttl: 0)
    }

    public func refreshClaims(_ kind: ClaimKind, node: String, now: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE \(kind.table) SET heartbeat_at = ? WHERE node = ?", arguments: [now.timeIntervalSince1970, node])
        }
    }

    public func releaseClaim(_ kind: ClaimKind, channel: String, node: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM \(kind.table) WHERE channel = ? AND node = ?", arguments: [channel, node])
        }
    }

    public func currentClaim(_ kind: ClaimKind, channel: String) async throws -> NodeClaim? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM \(kind.table) WHERE channel = ?", arguments: [channel]).map(Self.claim)
        }
    }

    private static func claim(_ row: Row) -> NodeClaim {
        NodeClaim(channel: row["channel"], node: row["node"], address: row["address"],
                       heartbeatAt: Date(timeIntervalSince1970: row["heartbeat_at"]))
    }
}
