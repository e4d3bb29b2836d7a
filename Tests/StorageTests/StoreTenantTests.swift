import Foundation
import Storage
import Testing

/// Tenants and their API keys through `Store`, against SQLite and PostgreSQL: the same calls, the same answers.
@Suite struct StoreTenantTests {
    @Test("tenants: created once with an admin key, found by id or name, quotas enforced, refused when in use, deleted",
          arguments: StoreKind.allCases)
    func tenants(kind: StoreKind) async throws {
        try await kind.with { store in
            #expect(try await store.tenants().map(\.id) == [Tenant.defaultID])
            let (acme, first, secret) = try await store.createTenant(name: "acme", quotas: TenantQuotas(maxChannels: 1))
            #expect(first.scopes == [.admin] && first.tenantID == acme.id && secret.hasPrefix("tk_"))
            await #expect(throws: StoreError.tenantExists("acme")) { try await store.createTenant(name: "acme") }
            await #expect(throws: StoreError.invalidTenantName("Bad Name")) { try await store.createTenant(name: "Bad Name") }
            await #expect(throws: StoreError.invalidQuota) {
                try await store.createTenant(name: "neg", quotas: TenantQuotas(maxChannels: -1))
            }
            #expect(try await store.tenant("acme")?.id == acme.id)
            #expect(try await store.tenant(acme.id)?.name == "acme")
            #expect(try await store.tenant("nobody") == nil)
            #expect(try await store.tenants().map(\.name) == ["acme", Tenant.defaultName])

            _ = try await store.createChannel(name: "show", tenant: acme.id)
            await #expect(throws: StoreError.quotaExceeded(quota: "channels", limit: 1)) {
                try await store.createChannel(name: "second", tenant: acme.id)
            }
            let raised = try await store.setQuotas(tenant: "acme", TenantQuotas(maxChannels: 2, maxViewers: 50))
            #expect(raised.quotas == TenantQuotas(maxChannels: 2, maxViewers: 50))
            #expect(try await store.tenant("acme")?.quotas.maxViewers == 50)
            _ = try await store.createChannel(name: "second", tenant: acme.id)
            #expect(try await store.channels(tenant: acme.id).map(\.name) == ["second", "show"])
            #expect(try await store.tenant(ofChannel: "show")?.id == acme.id)
            #expect(try await store.tenant(ofChannel: "missing") == nil)
            await #expect(throws: StoreError.tenantNotFound("ghost")) { try await store.setQuotas(tenant: "ghost", TenantQuotas()) }

            await #expect(throws: StoreError.tenantNotEmpty("acme", channels: 2)) { try await store.deleteTenant("acme") }
            await #expect(throws: StoreError.defaultTenant) { try await store.deleteTenant(Tenant.defaultName) }
            try await store.deleteChannel(name: "show")
            try await store.deleteChannel(name: "second")
            try await store.deleteTenant("acme")
            #expect(try await store.tenant("acme") == nil)
            #expect(try await store.apiKey(forSecret: secret) == nil, "a deleted tenant's keys go with it")
            await #expect(throws: StoreError.tenantNotFound("acme")) { try await store.deleteTenant("acme") }
        }
    }

    @Test("API keys: found by their secret only while live, scoped, rotated, revoked once, used-at kept coarse",
          arguments: StoreKind.allCases)
    func apiKeys(kind: StoreKind) async throws {
        try await kind.with { store in
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            let (tenant, admin, adminSecret) = try await store.createTenant(name: "acme", quotas: TenantQuotas(), now: now)
            let (reader, readSecret) = try await store.createAPIKey(tenant: "acme", scopes: [.read, .read], now: now)
            #expect(reader.scopes == [.read] && reader.tenantID == tenant.id)
            await #expect(throws: StoreError.tenantNotFound("ghost")) { try await store.createAPIKey(tenant: "ghost", scopes: [.read]) }
            #expect(try await store.apiKeys(tenant: tenant.id).map(\.id).sorted() == [admin.id, reader.id].sorted())

            let used = try #require(try await store.apiKey(forSecret: readSecret, now: now))
            #expect(used.id == reader.id && used.lastUsedAt == now)
            #expect(try await store.apiKey(forSecret: readSecret, now: now.addingTimeInterval(10))?.lastUsedAt == now,
                    "written at most once a minute")
            #expect(try await store.apiKey(forSecret: "tk_wrong") == nil)
            #expect(try await store.apiKey(forSecret: "ak_not-a-tenant-key") == nil)

            let (rotated, newSecret) = try await store.rotateAPIKey(tenant: "acme", id: reader.id)
            #expect(rotated.id == reader.id && newSecret != readSecret)
            #expect(try await store.apiKey(forSecret: readSecret) == nil, "the old secret stops at once")
            #expect(try await store.apiKey(forSecret: newSecret)?.id == reader.id)

            let revokedAt = now.addingTimeInterval(100)
            let revoked = try await store.revokeAPIKey(tenant: "acme", id: reader.id, now: revokedAt)
            #expect(revoked.revokedAt == revokedAt)
            #expect(try await store.revokeAPIKey(tenant: "acme", id: reader.id, now: revokedAt.addingTimeInterval(5)).revokedAt == revokedAt)
            #expect(try await store.apiKey(forSecret: newSecret) == nil)
            await #expect(throws: StoreError.keyNotFound(reader.id)) { try await store.rotateAPIKey(tenant: "acme", id: reader.id) }
            await #expect(throws: StoreError.keyNotFound("key_none")) { try await store.revokeAPIKey(tenant: "acme", id: "key_none") }
            #expect(try await store.apiKeys(tenant: "acme").first { $0.id == reader.id }?.revokedAt == revokedAt, "still listed")
            #expect(try await store.apiKey(forSecret: adminSecret)?.id == admin.id)

            // Another tenant cannot touch acme's key.
            _ = try await store.createTenant(name: "other")
            await #expect(throws: StoreError.keyNotFound(admin.id)) { try await store.revokeAPIKey(tenant: "other", id: admin.id) }
        }
    }
}

/// A channel's audience settings and signing key through `Store`, against SQLite and PostgreSQL.
@Suite struct StoreAudienceTests {
    @Test("audience settings and signing keys: saved per channel, rotated, refused for unknown channels, gone with the channel",
          arguments: StoreKind.allCases)
    func audience(kind: StoreKind) async throws {
        try await kind.with { store in
            _ = try await store.createChannel(name: "show")
            #expect(try await store.channelAudience(channel: "show") == nil)
            #expect(try await store.channelSigningKey(channel: "show") == nil)
            let key = try await store.rotateChannelSigningKey(channel: "show", now: Date(timeIntervalSince1970: 1_800_000_000))
            #expect(key.id.hasPrefix("ck_") && key.secret.hasPrefix("lk_"))
            #expect(try await store.channelSigningKey(channel: "show") == key)
            #expect(try await store.channelAudience(channel: "show") == nil, "a key alone saves no settings")
            try await store.saveChannelAudience(channel: "show", body: Data(#"{"join":"members"}"#.utf8))
            #expect(try await store.channelAudience(channel: "show") == Data(#"{"join":"members"}"#.utf8))
            #expect(try await store.channelSigningKey(channel: "show") == key, "saving settings keeps the key")
            let next = try await store.rotateChannelSigningKey(channel: "show")
            #expect(next.id != key.id && next.secret != key.secret)
            // The creation time goes through a Double since 1970 and back, which may move it by an ulp: compare within 1 ms.
            let stored = try await store.channelSigningKey(channel: "show")
            #expect(stored?.id == next.id && stored?.secret == next.secret)
            #expect(abs((stored?.createdAt ?? .distantPast).timeIntervalSince(next.createdAt)) < 0.001)
            #expect(try await store.channelAudience(channel: "show") == Data(#"{"join":"members"}"#.utf8), "rotating keeps the settings")

            await #expect(throws: StoreError.channelNotFound("missing")) { try await store.rotateChannelSigningKey(channel: "missing") }
            await #expect(throws: StoreError.channelNotFound("missing")) {
                try await store.saveChannelAudience(channel: "missing", body: Data("{}".utf8))
            }
            try await store.deleteChannel(name: "show")
            _ = try await store.createChannel(name: "show")
            #expect(try await store.channelSigningKey(channel: "show") == nil, "the old key does not sign for a new channel")
            #expect(try await store.channelAudience(channel: "show") == nil)
        }
    }
}
