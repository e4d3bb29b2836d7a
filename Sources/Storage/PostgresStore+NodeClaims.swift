import Foundation
import PostgresNIO

/// Node claims in PostgreSQL (migrations "publisher claims v1", "room claims v1"), with `SQLiteStore`'s semantics. A claim is taken
/// in one statement that only overwrites this node's own claim or a stale one, so two nodes claiming at once cannot
/// both win.
extension PostgresStore {
    static func claimMigration(_ kind: ClaimKind, _ name: String) -> (name: String, sql: [String]) {
        (name, ["""
            CREATE TABLE \(kind.table) (channel TEXT PRIMARY KEY REFERENCES channel (name) ON DELETE CASCADE,
                node TEXT NOT NULL, address TEXT NOT NULL, heartbeat_at DOUBLE PRECISION NOT NULL)
            """])
    }

    public func takeClaim(_ kind: ClaimKind, channel: String, node: String, address: String, now: Date, ttl: TimeInterval) async throws -> NodeClaim? {
        let at = now.timeIntervalSince1970, staleBefore = at - ttl
        let taken = try await Self.any(client.query("""
            INSERT INTO \(unescaped: kind.table) (channel, node, address, heartbeat_at)
            SELECT name, \(node), \(address), \(at) FROM channel WHERE name = \(channel)
            ON CONFLICT (channel) DO UPDATE SET node = excluded.node, address = excluded.address, heartbeat_at = excluded.heartbeat_at
            WHERE \(unescaped: kind.table).node = excluded.node OR \(unescaped: kind.table).heartbeat_at < \(staleBefore)
            RETURNING channel
            """, logger: logger))
        if taken { return nil }
        guard let held = try await currentClaim(kind, channel: channel) else { throw StoreError.channelNotFound(channel) }
        // Between the two statements the holder may have released it; a claim of this node's own is no refusal.
        if held.node == node { return nil }
        return held
    }

    public func replaceClaim(_ kind: ClaimKind, channel: String, node: String, address: String, now: Date, replacing held: NodeClaim) async throws -> NodeClaim? {
        // One conditional statement: of two nodes replacing the same gone holder, one wins and the other sees it.
        let taken = try await Self.any(client.query("""
            UPDATE \(unescaped: kind.table) SET node = \(node), address = \(address), heartbeat_at = \(now.timeIntervalSince1970)
            WHERE channel = \(channel) AND node = \(held.node) AND heartbeat_at = \(held.heartbeatAt.timeIntervalSince1970)
            RETURNING channel
            """, logger: logger))
        if taken { return nil }
        guard let current = try await currentClaim(kind, channel: channel) else {
            return try await takeClaim(kind, channel: channel, node: node, address: address, now: now, ttl: 0)
        }
        return current.node == node ? nil : current
    }

    public func refreshClaims(_ kind: ClaimKind, node: String, now: Date) async throws {
        try await client.query("UPDATE \(unescaped: kind.table) SET heartbeat_at = \(now.timeIntervalSince1970) WHERE node = \(node)", logger: logger)
    }

    public func releaseClaim(_ kind: ClaimKind, channel: String, node: String) async throws {
        try await client.query("DELETE FROM \(unescaped: kind.table) WHERE channel = \(channel) AND node = \(node)", logger: logger)
    }

    public func currentClaim(_ kind: ClaimKind, channel: String) async throws -> NodeClaim? {
        let rows = try await client.query(
            "SELECT channel, node, address, heartbeat_at FROM \(unescaped: kind.table) WHERE channel = \(channel)", logger: logger)
        for try await (channel, node, address, heartbeat) in rows.decode((String, String, String, Double).self) {
            return NodeClaim(channel: channel, node: node, address: address, heartbeatAt: Date(timeIntervalSince1970: heartbeat))
        }
        return nil
    }
}
