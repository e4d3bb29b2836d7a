import Foundation
import PostgresNIO

/// Publisher claims in PostgreSQL (migration "publisher claims v1"), with `SQLiteStore`'s semantics. A claim is taken
/// in one statement that only overwrites this node's own claim or a stale one, so two nodes claiming at once cannot
/// both win.
extension PostgresStore {
    static let publisherClaimMigration: (name: String, sql: [String]) = ("publisher claims v1", [
        """
        CREATE TABLE publisher_claim (channel TEXT PRIMARY KEY REFERENCES channel (name) ON DELETE CASCADE,
            node TEXT NOT NULL, address TEXT NOT NULL, heartbeat_at DOUBLE PRECISION NOT NULL)
        """,
    ])

    public func claimPublisher(channel: String, node: String, address: String, now: Date, ttl: TimeInterval) async throws -> PublisherClaim? {
        let at = now.timeIntervalSince1970, staleBefore = at - ttl
        let taken = try await Self.any(client.query("""
            INSERT INTO publisher_claim (channel, node, address, heartbeat_at)
            SELECT name, \(node), \(address), \(at) FROM channel WHERE name = \(channel)
            ON CONFLICT (channel) DO UPDATE SET node = excluded.node, address = excluded.address, heartbeat_at = excluded.heartbeat_at
            WHERE publisher_claim.node = excluded.node OR publisher_claim.heartbeat_at < \(staleBefore)
            RETURNING channel
            """, logger: logger))
        if taken { return nil }
        guard let held = try await publisherClaim(channel: channel) else { throw StoreError.channelNotFound(channel) }
        // Between the two statements the holder may have released it; a claim of this node's own is no refusal.
        if held.node == node { return nil }
        return held
    }

    public func refreshPublisherClaims(node: String, now: Date) async throws {
        try await client.query("UPDATE publisher_claim SET heartbeat_at = \(now.timeIntervalSince1970) WHERE node = \(node)", logger: logger)
    }

    public func releasePublisher(channel: String, node: String) async throws {
        try await client.query("DELETE FROM publisher_claim WHERE channel = \(channel) AND node = \(node)", logger: logger)
    }

    public func publisherClaim(channel: String) async throws -> PublisherClaim? {
        let rows = try await client.query(
            "SELECT channel, node, address, heartbeat_at FROM publisher_claim WHERE channel = \(channel)", logger: logger)
        for try await (channel, node, address, heartbeat) in rows.decode((String, String, String, Double).self) {
            return PublisherClaim(channel: channel, node: node, address: address, heartbeatAt: Date(timeIntervalSince1970: heartbeat))
        }
        return nil
    }
}
