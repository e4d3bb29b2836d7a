import Foundation
import PostgresNIO

/// Channels, the admin key and server secrets, channel and video settings and rundowns in PostgreSQL. The semantics
/// are `SQLiteStore`'s; where two nodes may race (a channel created twice, a secret created on first use) the
/// database decides, so every node ends up with the same row.
extension PostgresStore {
    // MARK: Channels

    public func createChannel(name: String, tenant: String, now: Date) async throws -> (Channel, streamKey: String) {
        guard Channel.isValidName(name) else { throw StoreError.invalidChannelName(name) }
        let key = Secrets.generate(prefix: "sk_")
        let channel = Channel(name: name, createdAt: now, allowAnonymous: false, tenantID: tenant)
        let logger = logger
        do {
            try await transaction { connection in
                // The tenant row is locked so two nodes creating channels of one tenant cannot both pass its quota.
                var quota: Int?? = nil
                for try await limit in try await connection.query(
                    "SELECT max_channels FROM tenant WHERE id = \(tenant) FOR UPDATE", logger: logger).decode(Int?.self) {
                    quota = .some(limit)
                }
                guard let quota else { throw StoreError.tenantNotFound(tenant) }
                if let limit = quota {
                    let count = try await Self.count(connection, "SELECT COUNT(*) FROM channel WHERE tenant_id = \(tenant)", logger)
                    if count >= limit { throw StoreError.quotaExceeded(quota: "channels", limit: limit) }
                }
                try await connection.query("""
                    INSERT INTO channel (name, stream_key_hash, created_at, allow_anonymous, tenant_id)
                    VALUES (\(name), \(Secrets.hash(key)), \(now.timeIntervalSince1970), \(channel.allowAnonymous), \(tenant))
                    """, logger: logger)
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == PostgresError.Code.uniqueViolation.raw {
            throw StoreError.channelExists(name)
        }
        return (channel, key)
    }

    public func channels() async throws -> [Channel] {
        try await fetchChannels("SELECT name, created_at, allow_anonymous, tenant_id FROM channel ORDER BY name")
    }

    public func channel(named name: String) async throws -> Channel? {
        try await fetchChannels("SELECT name, created_at, allow_anonymous, tenant_id FROM channel WHERE name = \(name)").first
    }

    public func channel(forStreamKey key: String) async throws -> Channel? {
        let hash = Secrets.hash(key)
        let rows = try await client.query(
            "SELECT name, created_at, allow_anonymous, tenant_id, stream_key_hash FROM channel WHERE stream_key_hash = \(hash)",
            logger: logger)
        for try await (name, createdAt, anonymous, tenant, stored) in rows.decode((String, Double, Bool, String, Data).self) {
            guard Secrets.constantTimeEquals(stored, hash) else { return nil }
            return Channel(name: name, createdAt: Date(timeIntervalSince1970: createdAt), allowAnonymous: anonymous, tenantID: tenant)
        }
        return nil
    }

    public func rotateKey(name: String) async throws -> String {
        let key = Secrets.generate(prefix: "sk_")
        let updated = try await client.query(
            "UPDATE channel SET stream_key_hash = \(Secrets.hash(key)) WHERE name = \(name) RETURNING name", logger: logger)
        guard try await Self.any(updated) else { throw StoreError.channelNotFound(name) }
        return key
    }

    public func deleteChannel(name: String) async throws {
        let deleted = try await client.query("DELETE FROM channel WHERE name = \(name) RETURNING name", logger: logger)
        guard try await Self.any(deleted) else { throw StoreError.channelNotFound(name) }
    }

    private func fetchChannels(_ query: PostgresQuery) async throws -> [Channel] {
        var channels: [Channel] = []
        for try await (name, createdAt, anonymous, tenant) in try await client.query(query, logger: logger)
            .decode((String, Double, Bool, String).self) {
            channels.append(Channel(name: name, createdAt: Date(timeIntervalSince1970: createdAt), allowAnonymous: anonymous, tenantID: tenant))
        }
        return channels
    }

    // MARK: Admin key and secrets

    public func ensureAdminKey() async throws -> String? {
        let key = Secrets.generate(prefix: "ak_")
        let inserted = try await client.query("""
            INSERT INTO setting (key, value) VALUES (\(SQLiteStore.adminKeySetting), \(Secrets.hash(key)))
            ON CONFLICT (key) DO NOTHING RETURNING key
            """, logger: logger)
        return try await Self.any(inserted) ? key : nil
    }

    public func rotateAdminKey() async throws -> String {
        let key = Secrets.generate(prefix: "ak_")
        try await client.query("""
            INSERT INTO setting (key, value) VALUES (\(SQLiteStore.adminKeySetting), \(Secrets.hash(key)))
            ON CONFLICT (key) DO UPDATE SET value = excluded.value
            """, logger: logger)
        return key
    }

    public func verifyAdminKey(_ key: String) async throws -> Bool {
        guard let stored = try await storedSecret(named: SQLiteStore.adminKeySetting) else { return false }
        return Secrets.constantTimeEquals(stored, Secrets.hash(key))
    }

    public func storedSecret(named name: String) async throws -> Data? {
        try await Self.firstData(client.query("SELECT value FROM setting WHERE key = \(name)", logger: logger))
    }

    public func secret(named name: String) async throws -> Data {
        var generator = SystemRandomNumberGenerator()
        let fresh = Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        // Insert-or-keep in one statement (the no-op update makes RETURNING give the kept row): whichever node
        // inserted first, every node gets that one.
        let kept = try await Self.firstData(client.query("""
            INSERT INTO setting (key, value) VALUES (\(name), \(fresh))
            ON CONFLICT (key) DO UPDATE SET value = setting.value RETURNING value
            """, logger: logger))
        return kept ?? fresh
    }

    // MARK: Channel settings, video settings, rundowns

    public func channelSettings(channel: String) async throws -> Data? {
        try await Self.firstData(client.query("SELECT body FROM channel_settings WHERE channel = \(channel)", logger: logger))
    }

    public func saveChannelSettings(channel: String, body: Data, allowAnonymous: Bool) async throws {
        let logger = logger
        try await transaction { connection in
            try await connection.query("""
                INSERT INTO channel_settings (channel, body) VALUES (\(channel), \(body))
                ON CONFLICT (channel) DO UPDATE SET body = excluded.body
                """, logger: logger)
            try await connection.query("UPDATE channel SET allow_anonymous = \(allowAnonymous) WHERE name = \(channel)", logger: logger)
        }
    }

    public func videoSettings(channel: String) async throws -> ChannelVideoSettings {
        guard let body = try await Self.firstData(
            client.query("SELECT body FROM channel_video WHERE channel = \(channel)", logger: logger)) else {
            return ChannelVideoSettings()
        }
        return try JSONDecoder().decode(ChannelVideoSettings.self, from: body)
    }

    public func saveVideoSettings(channel: String, _ settings: ChannelVideoSettings) async throws {
        let body = try JSONEncoder().encode(settings)
        // The insert selects from the channel row, so a missing channel inserts nothing (and a concurrent delete
        // cascades).
        let saved = try await client.query("""
            INSERT INTO channel_video (channel, body) SELECT name, \(body) FROM channel WHERE name = \(channel)
            ON CONFLICT (channel) DO UPDATE SET body = excluded.body RETURNING channel
            """, logger: logger)
        guard try await Self.any(saved) else { throw StoreError.channelNotFound(channel) }
    }

    public func rundown(channel: String) async throws -> Data? {
        try await Self.firstData(client.query("SELECT body FROM rundown WHERE channel = \(channel)", logger: logger))
    }

    public func saveRundown(channel: String, body: Data, now: Date) async throws {
        try await client.query("""
            INSERT INTO rundown (channel, body, updated_at) VALUES (\(channel), \(body), \(now.timeIntervalSince1970))
            ON CONFLICT (channel) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at
            """, logger: logger)
    }

    // MARK: Row helpers

    static func any(_ rows: PostgresRowSequence) async throws -> Bool {
        var found = false
        for try await _ in rows { found = true }
        return found
    }

    static func firstData(_ rows: PostgresRowSequence) async throws -> Data? {
        var first: Data?
        for try await value in rows.decode(Data.self) where first == nil { first = value }
        return first
    }

    static func count(_ connection: PostgresConnection, _ query: PostgresQuery, _ logger: Logger) async throws -> Int {
        var count = 0
        for try await value in try await connection.query(query, logger: logger).decode(Int.self) { count = value }
        return count
    }
}
