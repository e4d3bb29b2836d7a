import Foundation
import GRDB

/// A channel's signing key: the HMAC secret the customer's backend signs its viewers' tokens and playback tokens with
/// (HS256, the key's UTF-8 bytes), named by `id` in each token's `kid` header.
public struct ChannelSigningKey: Sendable, Equatable {
    /// Public: goes in the JWT header's `kid`.
    public var id: String
    /// The secret itself (`lk_` and 40 hex digits). The server needs it to check signatures, so it is kept, like the
    /// server's own JWT secret, in the owner-only database; the API shows it once, when it is made.
    public var secret: String
    public var createdAt: Date

    public init(id: String, secret: String, createdAt: Date) {
        self.id = id
        self.secret = secret
        self.createdAt = createdAt
    }
}

// MARK: Channel audience (how viewers join, private playback, embedding, branding) and the channel signing key

extension SQLiteStore {
    static func registerAudience(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v7 channel audience and signing keys") { db in
            try db.create(table: "channelAudience") { t in
                t.primaryKey("channel", .text)
                t.column("body", .blob)
                t.column("signingKeyId", .text)
                t.column("signingKey", .text)
                t.column("signingKeyCreatedAt", .double)
            }
            // A channel deleted and made again under the same name starts with no key and default settings: the old
            // key's tokens must not play the new channel.
            try db.execute(sql: """
                CREATE TRIGGER channelAudienceCleanup AFTER DELETE ON channel
                BEGIN DELETE FROM channelAudience WHERE channel = OLD.name; END
                """)
        }
    }

    /// The channel's audience settings as JSON, or nil for the defaults.
    public func channelAudience(channel: String) throws -> Data? {
        try pool.read { db in try Data.fetchOne(db, sql: "SELECT body FROM channelAudience WHERE channel = ?", arguments: [channel]) }
    }

    public func saveChannelAudience(channel: String, body: Data) throws {
        try pool.write { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM channel WHERE name = ?", arguments: [channel]) != nil else {
                throw StoreError.channelNotFound(channel)
            }
            try db.execute(
                sql: "INSERT INTO channelAudience (channel, body) VALUES (?, ?) ON CONFLICT(channel) DO UPDATE SET body = excluded.body",
                arguments: [channel, body]
            )
        }
    }

    /// The channel's signing key, if one was made.
    public func channelSigningKey(channel: String) throws -> ChannelSigningKey? {
        try pool.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT signingKeyId, signingKey, signingKeyCreatedAt FROM channelAudience WHERE channel = ? AND signingKey IS NOT NULL",
                arguments: [channel]
            ) else { return nil }
            return ChannelSigningKey(id: row["signingKeyId"], secret: row["signingKey"],
                                     createdAt: Date(timeIntervalSince1970: row["signingKeyCreatedAt"]))
        }
    }

    /// Makes a new signing key for the channel (replacing the old one, whose tokens stop working at once) and returns it.
    public func rotateChannelSigningKey(channel: String, now: Date = Date()) throws -> ChannelSigningKey {
        let key = ChannelSigningKey(id: Secrets.generateID(prefix: "ck_"), secret: Secrets.generate(prefix: "lk_"), createdAt: now)
        try pool.write { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM channel WHERE name = ?", arguments: [channel]) != nil else {
                throw StoreError.channelNotFound(channel)
            }
            try db.execute(
                sql: """
                    INSERT INTO channelAudience (channel, signingKeyId, signingKey, signingKeyCreatedAt) VALUES (?, ?, ?, ?)
                    ON CONFLICT(channel) DO UPDATE SET signingKeyId = excluded.signingKeyId, signingKey = excluded.signingKey,
                    signingKeyCreatedAt = excluded.signingKeyCreatedAt
                    """,
                arguments: [channel, key.id, key.secret, now.timeIntervalSince1970]
            )
        }
        return key
    }
}
