import Foundation
import GRDB

/// Tenants, their quotas and their API keys. Keys are `tk_` + 160 random bits, shown once and kept as SHA-256
/// hashes (as the admin key and stream keys are); a revoked key stays listed, with when it was revoked.
extension SQLiteStore {
    static func registerTenants(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v6 tenants and API keys") { db in
            try db.create(table: "tenant") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull().unique()
                t.column("createdAt", .double).notNull()
                t.column("maxChannels", .integer)
                t.column("maxViewers", .integer)
                t.column("maxPublishers", .integer)
            }
            try db.execute(sql: "INSERT INTO tenant (id, name, createdAt) VALUES (?, ?, ?)",
                           arguments: [Tenant.defaultID, Tenant.defaultName, Date().timeIntervalSince1970])
            // Every existing channel belongs to the default tenant. (SQLite cannot add a REFERENCES column with a
            // non-null default while foreign keys are on; the store keeps the link.)
            try db.alter(table: "channel") { t in
                t.add(column: "tenantId", .text).notNull().defaults(to: Tenant.defaultID)
            }
            try db.create(index: "channel_on_tenant", on: "channel", columns: ["tenantId"])
            try db.create(table: "apiKey") { t in
                t.primaryKey("id", .text)
                t.column("tenantId", .text).notNull().indexed().references("tenant", onDelete: .cascade)
                t.column("hash", .blob).notNull().unique()
                t.column("scopes", .text).notNull()
                t.column("createdAt", .double).notNull()
                t.column("revokedAt", .double)
                t.column("lastUsedAt", .double)
            }
        }
    }

    /// How long a key's `lastUsedAt` may lag: it is written at most this often, not on every request.
    static let lastUsedResolution: TimeInterval = 60

    // MARK: Tenants

    /// Creates a tenant with a first key of scope `admin`, returned once.
    public func createTenant(name: String, quotas: TenantQuotas = TenantQuotas(), now: Date = Date()) throws -> (Tenant, APIKey, secret: String) {
        guard Tenant.isValidName(name) else { throw StoreError.invalidTenantName(name) }
        guard quotas.isValid else { throw StoreError.invalidQuota }
        let tenant = Tenant(id: Secrets.generateID(prefix: "tn_"), name: name, createdAt: now, quotas: quotas)
        let (key, secret) = try pool.write { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM tenant WHERE name = ?", arguments: [name]) != nil {
                throw StoreError.tenantExists(name)
            }
            try db.execute(sql: """
                INSERT INTO tenant (id, name, createdAt, maxChannels, maxViewers, maxPublishers) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [tenant.id, name, now.timeIntervalSince1970, quotas.maxChannels, quotas.maxViewers, quotas.maxPublishers])
            return try Self.insertKey(db, tenant: tenant.id, scopes: [.admin], now: now)
        }
        return (tenant, key, secret)
    }

    public func tenants() throws -> [Tenant] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tenant ORDER BY name").map(Self.tenant)
        }
    }

    /// The tenant with this id, or else with this name.
    public func tenant(_ idOrName: String) throws -> Tenant? {
        try pool.read { db in try Self.tenant(db, idOrName) }
    }

    /// Changes a tenant's quotas (nil: unlimited). Lowering one below what is in use refuses only what comes next.
    public func setQuotas(tenant idOrName: String, _ quotas: TenantQuotas) throws -> Tenant {
        guard quotas.isValid else { throw StoreError.invalidQuota }
        return try pool.write { db in
            guard var tenant = try Self.tenant(db, idOrName) else { throw StoreError.tenantNotFound(idOrName) }
            try db.execute(sql: "UPDATE tenant SET maxChannels = ?, maxViewers = ?, maxPublishers = ? WHERE id = ?",
                           arguments: [quotas.maxChannels, quotas.maxViewers, quotas.maxPublishers, tenant.id])
            tenant.quotas = quotas
            return tenant
        }
    }

    /// Deletes a tenant and its keys. Refused while it has channels, and for the default tenant.
    public func deleteTenant(_ idOrName: String) throws {
        try pool.write { db in
            guard let tenant = try Self.tenant(db, idOrName) else { throw StoreError.tenantNotFound(idOrName) }
            guard tenant.id != Tenant.defaultID else { throw StoreError.defaultTenant }
            let channels = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM channel WHERE tenantId = ?", arguments: [tenant.id]) ?? 0
            guard channels == 0 else { throw StoreError.tenantNotEmpty(tenant.name, channels: channels) }
            try db.execute(sql: "DELETE FROM apiKey WHERE tenantId = ?", arguments: [tenant.id])
            try db.execute(sql: "DELETE FROM tenant WHERE id = ?", arguments: [tenant.id])
        }
    }

    /// The channels of one tenant, by name.
    public func channels(tenant: String) throws -> [Channel] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT name, createdAt, allowAnonymous, tenantId FROM channel WHERE tenantId = ? ORDER BY name",
                             arguments: [tenant]).map(Self.channel)
        }
    }

    /// The tenant that owns a channel, or nil when there is no such channel.
    public func tenant(ofChannel channel: String) throws -> Tenant? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT tenant.* FROM tenant JOIN channel ON channel.tenantId = tenant.id WHERE channel.name = ?",
                             arguments: [channel]).map(Self.tenant)
        }
    }

    /// Refuses a new channel of `tenant` when the tenant is unknown or its channel quota is reached.
    static func checkChannelQuota(_ db: Database, tenant id: String) throws {
        guard let tenant = try Self.tenant(db, id), tenant.id == id else { throw StoreError.tenantNotFound(id) }
        guard let limit = tenant.quotas.maxChannels else { return }
        let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM channel WHERE tenantId = ?", arguments: [id]) ?? 0
        if count >= limit { throw StoreError.quotaExceeded(quota: "channels", limit: limit) }
    }

    private static func tenant(_ db: Database, _ idOrName: String) throws -> Tenant? {
        try Row.fetchOne(db, sql: "SELECT * FROM tenant WHERE id = ? UNION ALL SELECT * FROM tenant WHERE name = ? LIMIT 1",
                         arguments: [idOrName, idOrName]).map(tenant)
    }

    private static func tenant(_ row: Row) -> Tenant {
        Tenant(id: row["id"], name: row["name"], createdAt: Date(timeIntervalSince1970: row["createdAt"]),
               quotas: TenantQuotas(maxChannels: row["maxChannels"], maxViewers: row["maxViewers"], maxPublishers: row["maxPublishers"]))
    }

    // MARK: API keys

    /// A new key of `tenant` with these scopes; the secret is returned once.
    public func createAPIKey(tenant idOrName: String, scopes: [APIScope], now: Date = Date()) throws -> (APIKey, secret: String) {
        try pool.write { db in
            guard let tenant = try Self.tenant(db, idOrName) else { throw StoreError.tenantNotFound(idOrName) }
            return try Self.insertKey(db, tenant: tenant.id, scopes: scopes, now: now)
        }
    }

    /// Every key of a tenant (revoked ones too), oldest first.
    public func apiKeys(tenant idOrName: String) throws -> [APIKey] {
        try pool.read { db in
            guard let tenant = try Self.tenant(db, idOrName) else { throw StoreError.tenantNotFound(idOrName) }
            return try Row.fetchAll(db, sql: "SELECT * FROM apiKey WHERE tenantId = ? ORDER BY createdAt, id", arguments: [tenant.id])
                .map(Self.apiKey)
        }
    }

    /// Revokes a key of `tenant`: it is refused from the next request on. Revoking a revoked key changes nothing.
    @discardableResult
    public func revokeAPIKey(tenant: String, id: String, now: Date = Date()) throws -> APIKey {
        try pool.write { db in
            guard var key = try Self.key(db, tenant: tenant, id: id) else { throw StoreError.keyNotFound(id) }
            if key.revokedAt == nil {
                try db.execute(sql: "UPDATE apiKey SET revokedAt = ? WHERE id = ?", arguments: [now.timeIntervalSince1970, id])
                key.revokedAt = now
            }
            return key
        }
    }

    /// Gives a key a new secret (same id and scopes); the old secret stops working at once. A revoked key is not found.
    public func rotateAPIKey(tenant: String, id: String) throws -> (APIKey, secret: String) {
        let secret = Secrets.generate(prefix: APIKey.secretPrefix)
        return try pool.write { db in
            guard let key = try Self.key(db, tenant: tenant, id: id), key.revokedAt == nil else { throw StoreError.keyNotFound(id) }
            try db.execute(sql: "UPDATE apiKey SET hash = ? WHERE id = ?", arguments: [Secrets.hash(secret), id])
            return (key, secret)
        }
    }

    /// The live (not revoked) key with this secret, or nil. Found by its hash, compared again in constant time;
    /// `lastUsedAt` is brought up to date at most once per `lastUsedResolution`.
    public func apiKey(forSecret secret: String, now: Date = Date()) throws -> APIKey? {
        guard secret.hasPrefix(APIKey.secretPrefix), secret.utf8.count <= 128 else { return nil }
        let hash = Secrets.hash(secret)
        let found = try pool.read { db -> APIKey? in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM apiKey WHERE hash = ? AND revokedAt IS NULL", arguments: [hash]),
                  Secrets.constantTimeEquals(row["hash"], hash) else { return nil }
            return Self.apiKey(row)
        }
        guard var key = found else { return nil }
        if now.timeIntervalSince(key.lastUsedAt ?? .distantPast) >= Self.lastUsedResolution {
            try pool.write { db in
                try db.execute(sql: "UPDATE apiKey SET lastUsedAt = ? WHERE id = ?", arguments: [now.timeIntervalSince1970, key.id])
            }
            key.lastUsedAt = now
        }
        return key
    }

    private static func key(_ db: Database, tenant idOrName: String, id: String) throws -> APIKey? {
        guard let tenant = try Self.tenant(db, idOrName) else { throw StoreError.tenantNotFound(idOrName) }
        return try Row.fetchOne(db, sql: "SELECT * FROM apiKey WHERE id = ? AND tenantId = ?", arguments: [id, tenant.id]).map(apiKey)
    }

    private static func insertKey(_ db: Database, tenant: String, scopes: [APIScope], now: Date) throws -> (APIKey, String) {
        let secret = Secrets.generate(prefix: APIKey.secretPrefix)
        let scopes = Array(Set(scopes)).sorted()
        let key = APIKey(id: Secrets.generateID(prefix: "key_"), tenantID: tenant, scopes: scopes, createdAt: now)
        try db.execute(sql: "INSERT INTO apiKey (id, tenantId, hash, scopes, createdAt) VALUES (?, ?, ?, ?, ?)",
                       arguments: [key.id, tenant, Secrets.hash(secret), scopes.map(\.rawValue).joined(separator: " "),
                                   now.timeIntervalSince1970])
        return (key, secret)
    }

    private static func apiKey(_ row: Row) -> APIKey {
        let scopes = (row["scopes"] as String? ?? "").split(separator: " ").compactMap { APIScope(rawValue: String($0)) }
        return APIKey(id: row["id"], tenantID: row["tenantId"], scopes: scopes, createdAt: Date(timeIntervalSince1970: row["createdAt"]),
                      lastUsedAt: (row["lastUsedAt"] as Double?).map(Date.init(timeIntervalSince1970:)),
                      revokedAt: (row["revokedAt"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }
}
