import Foundation
import GRDB

/// The embedded store: one SQLite database in WAL mode under the data directory.
///
/// Every command of the CLI and the running server open the same file; WAL lets them read and write side by side,
/// and since the server asks the database on every publish and API call, a change made by the CLI counts at once.
///
/// The database holds the signing secret and the key hashes, so the data directory is kept at mode 0700 and the
/// database files (with its `-wal` and `-shm`, which SQLite creates with the database file's mode) at 0600: readable
/// by the server's user only, whatever the process's umask.
public final class SQLiteStore: Sendable {
    public let path: String
    let pool: DatabasePool

    /// Opens (creating if needed) `DIR/liveloop.sqlite` and migrates it.
    public init(directory: String) throws {
        path = (directory as NSString).appendingPathComponent("liveloop.sqlite")
        try Self.prepareOwnerOnly(directory: directory, database: path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
        // The WAL files exist now; make sure ones left by an older version are not readable by others either.
        for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            try FileManager.default.setAttributes([.posixPermissions: Self.fileMode], ofItemAtPath: path + suffix)
        }
    }

    /// Mode of the data directory: owner only.
    public static let directoryMode = 0o700
    /// Mode of the database files: owner read and write only.
    public static let fileMode = 0o600

    /// Creates the directory (0700) and an empty database file (0600) before SQLite opens it, so neither is ever
    /// readable by others; tightens both when an older version left them open.
    private static func prepareOwnerOnly(directory: String, database: String) throws {
        let files = FileManager.default
        var isDirectory: ObjCBool = false
        if files.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw StoreError.notADirectory(directory) }
        } else {
            try files.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                      attributes: [.posixPermissions: directoryMode])
        }
        try files.setAttributes([.posixPermissions: directoryMode], ofItemAtPath: directory)
        if !files.fileExists(atPath: database) {
            guard files.createFile(atPath: database, contents: nil, attributes: [.posixPermissions: fileMode]) else {
                throw StoreError.notADirectory(directory)
            }
        }
        try files.setAttributes([.posixPermissions: fileMode], ofItemAtPath: database)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 channels and settings") { db in
            try db.create(table: "channel") { t in
                t.primaryKey("name", .text)
                t.column("streamKeyHash", .blob).notNull().unique()
                t.column("createdAt", .double).notNull()
                t.column("allowAnonymous", .boolean).notNull().defaults(to: true)
            }
            try db.create(table: "setting") { t in
                t.primaryKey("key", .text)
                t.column("value", .blob).notNull()
            }
        }
        registerEventLog(&migrator)
        registerRundowns(&migrator)
        registerChannelSettings(&migrator)
        registerTokens(&migrator)
        registerTenants(&migrator)
        registerWebhooks(&migrator)
        registerChannelVideo(&migrator)
        registerCheckpoints(&migrator)
        registerAudience(&migrator)
        registerDestinations(&migrator)
        registerNodeClaims(&migrator)
        return migrator
    }

    // MARK: Channels

    /// Creates a channel of `tenant` and returns its stream key, which is not stored and cannot be shown again.
    /// Refused with `quotaExceeded` when the tenant has as many channels as its quota allows.
    public func createChannel(name: String, tenant: String = Tenant.defaultID, now: Date = Date()) throws -> (Channel, streamKey: String) {
        guard Channel.isValidName(name) else { throw StoreError.invalidChannelName(name) }
        let key = Secrets.generate(prefix: "sk_")
        let channel = Channel(name: name, createdAt: now, allowAnonymous: false, tenantID: tenant)
        try pool.write { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM channel WHERE name = ?", arguments: [name]) != nil {
                throw StoreError.channelExists(name)
            }
            try Self.checkChannelQuota(db, tenant: tenant)
            try db.execute(
                sql: "INSERT INTO channel (name, streamKeyHash, createdAt, allowAnonymous, tenantId) VALUES (?, ?, ?, ?, ?)",
                arguments: [name, Secrets.hash(key), now.timeIntervalSince1970, channel.allowAnonymous, tenant]
            )
        }
        return (channel, key)
    }

    /// Creates the channel unless it exists; the key is returned only when it was created.
    public func ensureChannel(name: String) throws -> String? {
        do {
            return try createChannel(name: name).streamKey
        } catch StoreError.channelExists {
            return nil
        }
    }

    public func channels() throws -> [Channel] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT name, createdAt, allowAnonymous, tenantId FROM channel ORDER BY name").map(Self.channel)
        }
    }

    public func channel(named name: String) throws -> Channel? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT name, createdAt, allowAnonymous, tenantId FROM channel WHERE name = ?", arguments: [name])
                .map(Self.channel)
        }
    }

    /// The channel a stream key publishes to, or nil. The presented key is hashed, the row found by its hash, and the
    /// hashes compared again in constant time.
    public func channel(forStreamKey key: String) throws -> Channel? {
        let hash = Secrets.hash(key)
        return try pool.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT name, createdAt, allowAnonymous, tenantId, streamKeyHash FROM channel WHERE streamKeyHash = ?",
                arguments: [hash]
            ) else { return nil }
            let stored: Data = row["streamKeyHash"]
            return Secrets.constantTimeEquals(stored, hash) ? Self.channel(row) : nil
        }
    }

    /// Replaces a channel's stream key; the old one stops working at once.
    public func rotateKey(name: String) throws -> String {
        let key = Secrets.generate(prefix: "sk_")
        try pool.write { db in
            try db.execute(sql: "UPDATE channel SET streamKeyHash = ? WHERE name = ?", arguments: [Secrets.hash(key), name])
            if db.changesCount == 0 { throw StoreError.channelNotFound(name) }
        }
        return key
    }

    public func deleteChannel(name: String) throws {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM channel WHERE name = ?", arguments: [name])
            if db.changesCount == 0 { throw StoreError.channelNotFound(name) }
        }
    }

    static func channel(_ row: Row) -> Channel {
        Channel(
            name: row["name"], createdAt: Date(timeIntervalSince1970: row["createdAt"]),
            allowAnonymous: row["allowAnonymous"], tenantID: row["tenantId"] ?? Tenant.defaultID
        )
    }

    // MARK: Admin key and server secrets

    static let adminKeySetting = "adminKeyHash"

    /// Makes sure an admin API key exists; returns the key when it was just created (the only time it can be shown).
    public func ensureAdminKey() throws -> String? {
        try pool.write { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM setting WHERE key = ?", arguments: [Self.adminKeySetting]) != nil {
                return nil
            }
            let key = Secrets.generate(prefix: "ak_")
            try db.execute(sql: "INSERT INTO setting (key, value) VALUES (?, ?)", arguments: [Self.adminKeySetting, Secrets.hash(key)])
            return key
        }
    }

    /// Replaces the admin API key and returns the new one.
    public func rotateAdminKey() throws -> String {
        let key = Secrets.generate(prefix: "ak_")
        try pool.write { db in
            try db.execute(
                sql: "INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [Self.adminKeySetting, Secrets.hash(key)]
            )
        }
        return key
    }

    public func verifyAdminKey(_ key: String) throws -> Bool {
        let hash = Secrets.hash(key)
        let stored = try pool.read { db in
            try Data.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [Self.adminKeySetting])
        }
        guard let stored else { return false }
        return Secrets.constantTimeEquals(stored, hash)
    }

    /// The secret kept under `name`, if there is one (a read only: no write transaction).
    public func storedSecret(named name: String) throws -> Data? {
        try pool.read { db in try Data.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [name]) }
    }

    /// A random secret kept in the store under `name` (e.g. the JWT signing secret), created on first use.
    public func secret(named name: String) throws -> Data {
        try pool.write { db in
            if let value = try Data.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [name]) {
                return value
            }
            var generator = SystemRandomNumberGenerator()
            let value = Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
            try db.execute(sql: "INSERT INTO setting (key, value) VALUES (?, ?)", arguments: [name, value])
            return value
        }
    }
}

// MARK: The interaction event log

extension SQLiteStore {
    static func registerEventLog(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v2 interaction event log") { db in
            try db.create(table: "event") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("channel", .text).notNull().indexed()
                t.column("payload", .blob).notNull()
                t.column("at", .double).notNull()
            }
        }
    }
}

// MARK: Rundowns

extension SQLiteStore {
    static func registerRundowns(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v3 rundowns") { db in
            try db.create(table: "rundown") { t in
                t.primaryKey("channel", .text)
                t.column("body", .blob).notNull()
                t.column("updatedAt", .double).notNull()
            }
        }
    }

    /// A channel's rundown: the host's prepared polls, quizzes and offers, as the studio saved it (JSON).
    public func rundown(channel: String) throws -> Data? {
        try pool.read { db in try Data.fetchOne(db, sql: "SELECT body FROM rundown WHERE channel = ?", arguments: [channel]) }
    }

    public func saveRundown(channel: String, body: Data, now: Date = Date()) throws {
        try pool.write { db in
            try db.execute(
                sql: "INSERT INTO rundown (channel, body, updatedAt) VALUES (?, ?, ?) ON CONFLICT(channel) DO UPDATE SET body = excluded.body, updatedAt = excluded.updatedAt",
                arguments: [channel, body, now.timeIntervalSince1970]
            )
        }
    }
}

// MARK: Channel settings

extension SQLiteStore {
    static func registerChannelSettings(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v4 channel settings") { db in
            try db.create(table: "channelSettings") { t in
                t.primaryKey("channel", .text)
                t.column("body", .blob).notNull()
            }
        }
    }

    /// A channel's interaction settings as JSON, or nil for the defaults.
    public func channelSettings(channel: String) throws -> Data? {
        try pool.read { db in try Data.fetchOne(db, sql: "SELECT body FROM channelSettings WHERE channel = ?", arguments: [channel]) }
    }

    /// Saves a channel's settings; `allowAnonymous` is kept on the channel row too.
    public func saveChannelSettings(channel: String, body: Data, allowAnonymous: Bool) throws {
        try pool.write { db in
            try db.execute(
                sql: "INSERT INTO channelSettings (channel, body) VALUES (?, ?) ON CONFLICT(channel) DO UPDATE SET body = excluded.body",
                arguments: [channel, body]
            )
            try db.execute(sql: "UPDATE channel SET allowAnonymous = ? WHERE name = ?", arguments: [allowAnonymous, channel])
        }
    }
}
