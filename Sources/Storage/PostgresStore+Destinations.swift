import Foundation
import PostgresNIO

/// Multistream destinations in PostgreSQL (migration "destinations v1"), with `SQLiteStore`'s semantics. The
/// per-channel limit is checked with the channel row locked, so two nodes adding at once cannot pass it; a deleted
/// channel's destinations go with it.
extension PostgresStore {
    static let destinationMigration: (name: String, sql: [String]) = ("destinations v1", [
        """
        CREATE TABLE destination (id TEXT PRIMARY KEY, channel TEXT NOT NULL REFERENCES channel (name) ON DELETE CASCADE,
            name TEXT NOT NULL, url TEXT NOT NULL, stream_key TEXT NOT NULL, enabled BOOLEAN NOT NULL,
            created_at DOUBLE PRECISION NOT NULL)
        """,
        "CREATE INDEX destination_on_channel ON destination (channel)",
    ])

    public func createDestination(channel: String, name: String, url: String, key: String, enabled: Bool, limit: Int,
                                  now: Date) async throws -> Destination {
        let destination = Destination(id: Secrets.generateID(prefix: "ds_"), channel: channel, name: name, url: url,
                                      key: DestinationKey(key), enabled: enabled, createdAt: now)
        let logger = logger
        try await transaction { connection in
            let locked = try await connection.query("SELECT name FROM channel WHERE name = \(channel) FOR UPDATE", logger: logger)
            guard try await Self.any(locked) else { throw StoreError.channelNotFound(channel) }
            let count = try await Self.count(connection, "SELECT COUNT(*) FROM destination WHERE channel = \(channel)", logger)
            guard count < limit else { throw DestinationLimitReached(limit: limit) }
            try await connection.query("""
                INSERT INTO destination (id, channel, name, url, stream_key, enabled, created_at)
                VALUES (\(destination.id), \(channel), \(name), \(url), \(key), \(enabled), \(now.timeIntervalSince1970))
                """, logger: logger)
        }
        return destination
    }

    public func destinations(channel: String) async throws -> [Destination] {
        try await fetchDestinations(client.query("""
            SELECT id, channel, name, url, stream_key, enabled, created_at FROM destination WHERE channel = \(channel)
            ORDER BY created_at, id
            """, logger: logger))
    }

    public func destination(id: String, channel: String) async throws -> Destination? {
        try await fetchDestinations(client.query("""
            SELECT id, channel, name, url, stream_key, enabled, created_at FROM destination WHERE id = \(id) AND channel = \(channel)
            """, logger: logger)).first
    }

    public func setDestination(id: String, channel: String, enabled: Bool) async throws -> Destination? {
        try await fetchDestinations(client.query("""
            UPDATE destination SET enabled = \(enabled) WHERE id = \(id) AND channel = \(channel)
            RETURNING id, channel, name, url, stream_key, enabled, created_at
            """, logger: logger)).first
    }

    public func deleteDestination(id: String, channel: String) async throws -> Bool {
        try await Self.any(client.query(
            "DELETE FROM destination WHERE id = \(id) AND channel = \(channel) RETURNING id", logger: logger))
    }

    private func fetchDestinations(_ rows: PostgresRowSequence) async throws -> [Destination] {
        var found: [Destination] = []
        for try await (id, channel, name, url, key, enabled, createdAt) in rows.decode((String, String, String, String, String, Bool, Double).self) {
            found.append(Destination(id: id, channel: channel, name: name, url: url, key: DestinationKey(key), enabled: enabled,
                                     createdAt: Date(timeIntervalSince1970: createdAt)))
        }
        return found
    }
}
