import Foundation
import Storage
import Testing

@Suite("tenants and API keys in the store")
struct TenantStoreTests {
    @Test("a database from before tenants keeps its channels, now owned by the default tenant")
    func migrationKeepsChannels() throws {
        let temporary = try TemporaryStore()
        let (_, key) = try temporary.store.createChannel(name: "old-show")
        // Put the database back to the schema before tenants (as an older release left it), keeping the channel.
        let database = temporary.directory.appendingPathComponent("liveloop.sqlite").path
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [database, """
            DROP TABLE apiKey; DROP TABLE tenant; DROP INDEX channel_on_tenant; ALTER TABLE channel DROP COLUMN tenantId;
            DELETE FROM grdb_migrations WHERE identifier LIKE 'v6%';
            """]
        try sqlite.run()
        sqlite.waitUntilExit()
        try #require(sqlite.terminationStatus == 0)

        let migrated = try temporary.reopen()
        #expect(try migrated.channel(named: "old-show")?.tenantID == Tenant.defaultID)
        #expect(try migrated.channel(forStreamKey: key)?.name == "old-show", "its stream key still publishes")
        #expect(try migrated.tenants().map(\.name) == [Tenant.defaultName])
        #expect(try migrated.channels(tenant: Tenant.defaultID).map(\.name) == ["old-show"])
    }

    @Test("a tenant's keys are stored hashed, shown once, rotated and revoked")
    func keyLifecycle() throws {
        let temporary = try TemporaryStore()
        let store = temporary.store
        let (tenant, first, secret) = try store.createTenant(name: "acme")
        #expect(secret.hasPrefix("tk_") && secret.count == 43)
        #expect(first.scopes == [.admin] && first.tenantID == tenant.id)
        #expect(try store.apiKey(forSecret: secret)?.id == first.id)

        let (reader, readSecret) = try store.createAPIKey(tenant: "acme", scopes: [.read, .read])
        #expect(reader.scopes == [.read])
        #expect(reader.allows(.read) && !reader.allows(.channelsWrite))
        #expect(first.allows(.read) && first.allows(.channelsWrite))

        let bytes = try temporary.fileBytes()
        for shown in [secret, readSecret] {
            #expect(!bytes.containsSubsequence(Array(shown.utf8)), "the key itself is nowhere on disk")
            #expect(bytes.containsSubsequence([UInt8](Secrets.hash(shown))), "its hash is")
        }

        let (rotated, newSecret) = try store.rotateAPIKey(tenant: tenant.id, id: reader.id)
        #expect(rotated.id == reader.id && rotated.scopes == [.read])
        #expect(try store.apiKey(forSecret: readSecret) == nil, "the old secret stops working at once")
        #expect(try store.apiKey(forSecret: newSecret)?.id == reader.id)

        try store.revokeAPIKey(tenant: "acme", id: reader.id)
        #expect(try store.apiKey(forSecret: newSecret) == nil)
        let listed = try store.apiKeys(tenant: "acme")
        #expect(listed.map(\.id) == [first.id, reader.id])
        #expect(listed.last?.revokedAt != nil && listed.first?.revokedAt == nil)
        #expect(throws: StoreError.keyNotFound(reader.id)) { try store.rotateAPIKey(tenant: "acme", id: reader.id) }
        #expect(listed.first?.lastUsedAt != nil, "use is recorded")

        // A key is found only through its own tenant.
        _ = try store.createTenant(name: "other")
        #expect(throws: StoreError.keyNotFound(first.id)) { try store.revokeAPIKey(tenant: "other", id: first.id) }
        #expect(try store.apiKey(forSecret: secret) != nil)
    }

    @Test("a tenant's channel quota refuses the next channel, with its limit; other tenants are not affected")
    func channelQuota() throws {
        let temporary = try TemporaryStore()
        let store = temporary.store
        let (small, _, _) = try store.createTenant(name: "small", quotas: TenantQuotas(maxChannels: 2))
        _ = try store.createChannel(name: "s1", tenant: small.id)
        _ = try store.createChannel(name: "s2", tenant: small.id)
        #expect(throws: StoreError.quotaExceeded(quota: "channels", limit: 2)) { try store.createChannel(name: "s3", tenant: small.id) }
        #expect(try store.channel(named: "s3") == nil)
        _ = try store.createChannel(name: "d1")
        #expect(try store.channel(named: "d1")?.tenantID == Tenant.defaultID)
        #expect(throws: StoreError.tenantNotFound("tn_nope")) { try store.createChannel(name: "x", tenant: "tn_nope") }

        // Raising the quota lets the next one in.
        _ = try store.setQuotas(tenant: "small", TenantQuotas(maxChannels: 3))
        _ = try store.createChannel(name: "s3", tenant: small.id)
        #expect(throws: StoreError.invalidQuota) { try store.setQuotas(tenant: "small", TenantQuotas(maxViewers: -1)) }
    }

    @Test("a tenant with channels, and the default tenant, cannot be deleted; an empty one is, with its keys")
    func deletion() throws {
        let temporary = try TemporaryStore()
        let store = temporary.store
        let (tenant, _, secret) = try store.createTenant(name: "gone")
        _ = try store.createChannel(name: "g1", tenant: tenant.id)
        #expect(throws: StoreError.tenantNotEmpty("gone", channels: 1)) { try store.deleteTenant("gone") }
        #expect(throws: StoreError.defaultTenant) { try store.deleteTenant(Tenant.defaultName) }
        #expect(throws: StoreError.tenantExists("gone")) { try store.createTenant(name: "gone") }
        #expect(throws: StoreError.invalidTenantName("Bad Name")) { try store.createTenant(name: "Bad Name") }
        try store.deleteChannel(name: "g1")
        try store.deleteTenant(tenant.id)
        #expect(try store.tenant("gone") == nil)
        #expect(try store.apiKey(forSecret: secret) == nil)
    }
}
