import Foundation
import PostgresNIO

/// A channel's audience settings and signing key in PostgreSQL, with `SQLiteStore`'s semantics. Each write selects
/// from the channel row, so a missing channel writes nothing (`channelNotFound`) and a concurrent delete cascades.
extension PostgresStore {
    public func channelAudience(channel: String) async throws -> Data? {
        var body: Data?
        for try await value in try await client.query("SELECT body FROM channel_audience WHERE channel = \(channel)", logger: logger)
            .decode(Data?.self) {
            body = value
        }
        return body
    }

    public func saveChannelAudience(channel: String, body: Data) async throws {
        let saved = try await client.query("""
            INSERT INTO channel_audience (channel, body) SELECT name, \(body) FROM channel WHERE name = \(channel)
            ON CONFLICT (channel) DO UPDATE SET body = excluded.body RETURNING channel
            """, logger: logger)
        guard try await Self.any(saved) else { throw StoreError.channelNotFound(channel) }
    }

    public func channelSigningKey(channel: String) async throws -> ChannelSigningKey? {
        let rows = try await client.query("""
            SELECT signing_key_id, signing_key, signing_key_created_at FROM channel_audience
            WHERE channel = \(channel) AND signing_key IS NOT NULL
            """, logger: logger)
        var key: ChannelSigningKey?
        for try await (id, secret, createdAt) in rows.decode((String, String, Double).self) {
            key = ChannelSigningKey(id: id, secret: secret, createdAt: Date(timeIntervalSince1970: createdAt))
        }
        return key
    }

    public func rotateChannelSigningKey(channel: String, now: Date) async throws -> ChannelSigningKey {
        let key = ChannelSigningKey(id: Secrets.generateID(prefix: "ck_"), secret: Secrets.generate(prefix: "lk_"), createdAt: now)
        let saved = try await client.query("""
            INSERT INTO channel_audience (channel, signing_key_id, signing_key, signing_key_created_at)
            SELECT name, \(key.id), \(key.secret), \(now.timeIntervalSince1970) FROM channel WHERE name = \(channel)
            ON CONFLICT (channel) DO UPDATE SET signing_key_id = excluded.signing_key_id, signing_key = excluded.signing_key,
                signing_key_created_at = excluded.signing_key_created_at
            RETURNING channel
            """, logger: logger)
        guard try await Self.any(saved) else { throw StoreError.channelNotFound(channel) }
        return key
    }
}
