import Foundation
import PostgresNIO

/// Tenants, their quotas and their API keys in PostgreSQL, with `SQLiteStore`'s semantics: keys are shown once and
/// kept as SHA-256 hashes; a revoked key stays listed. Where two nodes may race (a tenant created twice, a tenant
/// deleted while a channel is created) the database decides: the name is unique and the tenant row is locked.
extension PostgresStore {
    private static let tenantColumns = "id, name, created_at, max_channels, max_viewers, max_publishers"
    private static let keyColumns = "id, tenant_id, scopes, created_at, last_used_at, revoked_at"

    // MARK: Tenants

    public func createTenant(name: String, quotas: TenantQuotas, now: Date) async throws -> (Tenant, APIKey, secret: String) {
        guard Tenant.isValidName(name) else { throw StoreError.invalidTenantName(name) }
        guard quotas.isValid else { throw StoreError.invalidQuota }
        let tenant = Tenant(id: Secrets.generateID(prefix: "tn_"), name: name, createdAt: now, quotas: quotas)
        let (key, secret, hash) = Self.newKey(tenant: tenant.id, scopes: [.admin], now: now)
        let logger = logger
        do {
            try await transaction { connection in
                try await connection.query("""
                    INSERT INTO tenant (id, name, created_at, max_channels, max_viewers, max_publishers)
                    VALUES (\(tenant.id), \(name), \(now.timeIntervalSince1970), \(quotas.maxChannels), \(quotas.maxViewers),
                        \(quotas.maxPublishers))
                    """, logger: logger)
                try await Self.insert(key, hash: hash, connection, logger)
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == PostgresError.Code.uniqueViolation.raw {
            throw StoreError.tenantExists(name)
        }
        return (tenant, key, secret)
    }

    public func tenants() async throws -> [Tenant] {
        try await fetchTenants("SELECT \(unescaped: Self.tenantColumns) FROM tenant ORDER BY name")
    }

    public func tenant(_ idOrName: String) async throws -> Tenant? {
        try await fetchTenants(Self.tenantQuery(idOrName, lock: false)).first
    }

    public func setQuotas(tenant idOrName: String, _ quotas: TenantQuotas) async throws -> Tenant {
        guard quotas.isValid else { throw StoreError.invalidQuota }
        let logger = logger
        var changed: Tenant?
        try await transaction { connection in
            guard var tenant = try await Self.tenants(connection.query(Self.tenantQuery(idOrName, lock: true), logger: logger)).first else {
                throw StoreError.tenantNotFound(idOrName)
            }
            try await connection.query("""
                UPDATE tenant SET max_channels = \(quotas.maxChannels), max_viewers = \(quotas.maxViewers),
                    max_publishers = \(quotas.maxPublishers) WHERE id = \(tenant.id)
                """, logger: logger)
            tenant.quotas = quotas
            changed = tenant
        }
        guard let changed else { throw StoreError.tenantNotFound(idOrName) }
        return changed
    }

    public func deleteTenant(_ idOrName: String) async throws {
        let logger = logger
        try await transaction { connection in
            // The lock makes a channel created at the same moment wait (createChannel locks the row too).
            guard let tenant = try await Self.tenants(connection.query(Self.tenantQuery(idOrName, lock: true), logger: logger)).first else {
                throw StoreError.tenantNotFound(idOrName)
            }
            guard tenant.id != Tenant.defaultID else { throw StoreError.defaultTenant }
            let channels = try await Self.count(connection, "SELECT COUNT(*) FROM channel WHERE tenant_id = \(tenant.id)", logger)
            guard channels == 0 else { throw StoreError.tenantNotEmpty(tenant.name, channels: channels) }
            try await connection.query("DELETE FROM tenant WHERE id = \(tenant.id)", logger: logger)
        }
    }

    public func channels(tenant: String) async throws -> [Channel] {
        var channels: [Channel] = []
        let rows = try await client.query(
            "SELECT name, created_at, allow_anonymous, tenant_id FROM channel WHERE tenant_id = \(tenant) ORDER BY name", logger: logger)
        for try await (name, createdAt, anonymous, owner) in rows.decode((String, Double, Bool, String).self) {
            channels.append(Channel(name: name, createdAt: Date(timeIntervalSince1970: createdAt), allowAnonymous: anonymous, tenantID: owner))
        }
        return channels
    }

    public func tenant(ofChannel channel: String) async throws -> Tenant? {
        try await fetchTenants("""
            SELECT tenant.id, tenant.name, tenant.created_at, tenant.max_channels, tenant.max_viewers, tenant.max_publishers
            FROM tenant JOIN channel ON channel.tenant_id = tenant.id WHERE channel.name = \(channel)
            """).first
    }

    // MARK: API keys

    public func createAPIKey(tenant idOrName: String, scopes: [APIScope], now: Date) async throws -> (APIKey, secret: String) {
        let logger = logger
        var created: (APIKey, String)?
        try await transaction { connection in
            guard let tenant = try await Self.tenants(connection.query(Self.tenantQuery(idOrName, lock: true), logger: logger)).first else {
                throw StoreError.tenantNotFound(idOrName)
            }
            let (key, secret, hash) = Self.newKey(tenant: tenant.id, scopes: scopes, now: now)
            try await Self.insert(key, hash: hash, connection, logger)
            created = (key, secret)
        }
        guard let created else { throw StoreError.tenantNotFound(idOrName) }
        return created
    }

    public func apiKeys(tenant idOrName: String) async throws -> [APIKey] {
        guard let tenant = try await tenant(idOrName) else { throw StoreError.tenantNotFound(idOrName) }
        return try await Self.keys(client.query(
            "SELECT \(unescaped: Self.keyColumns) FROM api_key WHERE tenant_id = \(tenant.id) ORDER BY created_at, id", logger: logger))
    }

    @discardableResult
    public func revokeAPIKey(tenant: String, id: String, now: Date) async throws -> APIKey {
        guard var key = try await key(tenant: tenant, id: id) else { throw StoreError.keyNotFound(id) }
        if key.revokedAt == nil {
            // Only the first revocation sets the time; a second one (another node) keeps it.
            var stored: Double?
            for try await value in try await client.query("""
                UPDATE api_key SET revoked_at = COALESCE(revoked_at, \(now.timeIntervalSince1970)) WHERE id = \(id) RETURNING revoked_at
                """, logger: logger).decode(Double.self) {
                stored = value
            }
            guard let stored else { throw StoreError.keyNotFound(id) }
            key.revokedAt = Date(timeIntervalSince1970: stored)
        }
        return key
    }

    public func rotateAPIKey(tenant: String, id: String) async throws -> (APIKey, secret: String) {
        guard let key = try await key(tenant: tenant, id: id), key.revokedAt == nil else { throw StoreError.keyNotFound(id) }
        let secret = Secrets.generate(prefix: APIKey.secretPrefix)
        let updated = try await client.query("""
            UPDATE api_key SET hash = \(Secrets.hash(secret)) WHERE id = \(id) AND revoked_at IS NULL RETURNING id
            """, logger: logger)
        guard try await Self.any(updated) else { throw StoreError.keyNotFound(id) }
        return (key, secret)
    }

    public func apiKey(forSecret secret: String, now: Date) async throws -> APIKey? {
        guard secret.hasPrefix(APIKey.secretPrefix), secret.utf8.count <= 128 else { return nil }
        let hash = Secrets.hash(secret)
        let rows = try await client.query(
            "SELECT \(unescaped: Self.keyColumns), hash FROM api_key WHERE hash = \(hash) AND revoked_at IS NULL", logger: logger)
        var found: APIKey?
        for try await (id, tenant, scopes, createdAt, lastUsed, revoked, stored) in rows
            .decode((String, String, String, Double, Double?, Double?, Data).self) where found == nil {
            guard Secrets.constantTimeEquals(stored, hash) else { continue }
            found = Self.apiKey(id, tenant, scopes, createdAt, lastUsed, revoked)
        }
        guard var key = found else { return nil }
        if now.timeIntervalSince(key.lastUsedAt ?? .distantPast) >= SQLiteStore.lastUsedResolution {
            try await client.query("UPDATE api_key SET last_used_at = \(now.timeIntervalSince1970) WHERE id = \(key.id)", logger: logger)
            key.lastUsedAt = now
        }
        return key
    }

    // MARK: Helpers

    private func key(tenant idOrName: String, id: String) async throws -> APIKey? {
        guard let tenant = try await tenant(idOrName) else { throw StoreError.tenantNotFound(idOrName) }
        return try await Self.keys(client.query(
            "SELECT \(unescaped: Self.keyColumns) FROM api_key WHERE id = \(id) AND tenant_id = \(tenant.id)", logger: logger)).first
    }

    private static func newKey(tenant: String, scopes: [APIScope], now: Date) -> (APIKey, secret: String, hash: Data) {
        let secret = Secrets.generate(prefix: APIKey.secretPrefix)
        let key = APIKey(id: Secrets.generateID(prefix: "key_"), tenantID: tenant, scopes: Array(Set(scopes)).sorted(), createdAt: now)
        return (key, secret, Secrets.hash(secret))
    }

    private static func insert(_ key: APIKey, hash: Data, _ connection: PostgresConnection, _ logger: Logger) async throws {
        let scopes = key.scopes.map(\.rawValue).joined(separator: " ")
        try await connection.query("""
            INSERT INTO api_key (id, tenant_id, hash, scopes, created_at)
            VALUES (\(key.id), \(key.tenantID), \(hash), \(scopes), \(key.createdAt.timeIntervalSince1970))
            """, logger: logger)
    }

    /// The tenant with this id, or else with this name (an id wins over a name that happens to equal it).
    private static func tenantQuery(_ idOrName: String, lock: Bool) -> PostgresQuery {
        """
        SELECT \(unescaped: tenantColumns) FROM tenant WHERE id = \(idOrName) OR name = \(idOrName)
        ORDER BY (id = \(idOrName)) DESC LIMIT 1\(unescaped: lock ? " FOR UPDATE" : "")
        """
    }

    private func fetchTenants(_ query: PostgresQuery) async throws -> [Tenant] {
        try await Self.tenants(client.query(query, logger: logger))
    }

    private static func tenants(_ rows: PostgresRowSequence) async throws -> [Tenant] {
        var tenants: [Tenant] = []
        for try await (id, name, createdAt, channels, viewers, publishers) in rows
            .decode((String, String, Double, Int?, Int?, Int?).self) {
            tenants.append(Tenant(id: id, name: name, createdAt: Date(timeIntervalSince1970: createdAt),
                                  quotas: TenantQuotas(maxChannels: channels, maxViewers: viewers, maxPublishers: publishers)))
        }
        return tenants
    }

    private static func keys(_ rows: PostgresRowSequence) async throws -> [APIKey] {
        var keys: [APIKey] = []
        for try await (id, tenant, scopes, createdAt, lastUsed, revoked) in rows
            .decode((String, String, String, Double, Double?, Double?).self) {
            keys.append(apiKey(id, tenant, scopes, createdAt, lastUsed, revoked))
        }
        return keys
    }

    private static func apiKey(_ id: String, _ tenant: String, _ scopes: String, _ createdAt: Double, _ lastUsed: Double?,
                               _ revoked: Double?) -> APIKey {
        APIKey(id: id, tenantID: tenant, scopes: scopes.split(separator: " ").compactMap { APIScope(rawValue: String($0)) },
               createdAt: Date(timeIntervalSince1970: createdAt), lastUsedAt: lastUsed.map(Date.init(timeIntervalSince1970:)),
               revokedAt: revoked.map(Date.init(timeIntervalSince1970:)))
    }
}
