import Foundation

/// What the server and the CLI read and write, whichever database holds it: SQLite (`SQLiteStore`, wrapped by
/// `SQLiteAsyncStore`, the default) or PostgreSQL (`PostgresStore`, `--database postgres://…`).
///
/// Every call is asynchronous and none blocks the cooperative pool. Names and semantics follow `SQLiteStore`'s
/// methods of the same name; the tests in `StoreTests` run each against both stores.
///
/// Everything the server keeps in a database: channels and their stream keys, tenants and their API keys, the admin
/// key and server secrets, channel settings, video settings and rundowns, channel audience settings and signing keys,
/// token revocations and signing-secret rotation, multistream destinations, (via `EventLog`) the interaction log and
/// the analytics reads of it, and (via `WebhookStore`) webhooks with their delivery queue and log. Recordings are
/// media files with their metadata beside them in the data directory, whichever store holds the rest.
public protocol Store: EventLog, WebhookStore {
    // MARK: Channels

    /// Creates a channel of `tenant`; returns it and its stream key (shown once). `channelExists`,
    /// `invalidChannelName`, `tenantNotFound` or `quotaExceeded` otherwise.
    func createChannel(name: String, tenant: String, now: Date) async throws -> (Channel, streamKey: String)
    func channels() async throws -> [Channel]
    func channel(named name: String) async throws -> Channel?
    /// The channel a stream key publishes to (found by its hash, compared in constant time), or nil.
    func channel(forStreamKey key: String) async throws -> Channel?
    /// A new stream key for the channel; the old one stops working at once. `channelNotFound` otherwise.
    func rotateKey(name: String) async throws -> String
    func deleteChannel(name: String) async throws

    // MARK: Tenants and API keys

    /// Creates a tenant with a first key of scope `admin`, returned once. `invalidTenantName`, `invalidQuota` or
    /// `tenantExists` otherwise.
    func createTenant(name: String, quotas: TenantQuotas, now: Date) async throws -> (Tenant, APIKey, secret: String)
    /// Every tenant, by name.
    func tenants() async throws -> [Tenant]
    /// The tenant with this id, or else with this name.
    func tenant(_ idOrName: String) async throws -> Tenant?
    /// Changes a tenant's quotas (nil: unlimited). `tenantNotFound` or `invalidQuota` otherwise.
    func setQuotas(tenant idOrName: String, _ quotas: TenantQuotas) async throws -> Tenant
    /// Deletes a tenant and its keys; refused (`tenantNotEmpty`, `defaultTenant`) while it has channels, or for the default.
    func deleteTenant(_ idOrName: String) async throws
    /// The channels of one tenant (its id), by name.
    func channels(tenant: String) async throws -> [Channel]
    /// The tenant that owns a channel, or nil when there is no such channel.
    func tenant(ofChannel channel: String) async throws -> Tenant?
    /// A new key of `tenant` with these scopes; the secret is returned once.
    func createAPIKey(tenant idOrName: String, scopes: [APIScope], now: Date) async throws -> (APIKey, secret: String)
    /// Every key of a tenant (revoked ones too), oldest first.
    func apiKeys(tenant idOrName: String) async throws -> [APIKey]
    /// Revokes a key of `tenant`; revoking a revoked key changes nothing. `keyNotFound` otherwise.
    @discardableResult
    func revokeAPIKey(tenant: String, id: String, now: Date) async throws -> APIKey
    /// A new secret for a live key (same id and scopes); the old one stops working at once.
    func rotateAPIKey(tenant: String, id: String) async throws -> (APIKey, secret: String)
    /// The live key with this secret (found by its hash, compared in constant time), or nil; `lastUsedAt` is
    /// written at most once a minute.
    func apiKey(forSecret secret: String, now: Date) async throws -> APIKey?

    // MARK: Admin key and secrets

    /// Creates the admin key when there is none; returns it only then.
    func ensureAdminKey() async throws -> String?
    func rotateAdminKey() async throws -> String
    func verifyAdminKey(_ key: String) async throws -> Bool
    /// The secret under `name` if there is one (no write).
    func storedSecret(named name: String) async throws -> Data?
    /// The secret under `name`, created (32 random bytes) on first use; every node reads the same one.
    func secret(named name: String) async throws -> Data

    // MARK: Channel settings, video settings, rundowns

    func channelSettings(channel: String) async throws -> Data?
    /// Saves the channel's interaction settings and its `allowAnonymous` flag.
    func saveChannelSettings(channel: String, body: Data, allowAnonymous: Bool) async throws
    /// The defaults when none were saved.
    func videoSettings(channel: String) async throws -> ChannelVideoSettings
    /// `channelNotFound` for a channel that does not exist.
    func saveVideoSettings(channel: String, _ settings: ChannelVideoSettings) async throws
    func rundown(channel: String) async throws -> Data?
    func saveRundown(channel: String, body: Data, now: Date) async throws

    // MARK: Channel audience and signing key

    /// The channel's audience settings as JSON, or nil for the defaults.
    func channelAudience(channel: String) async throws -> Data?
    /// `channelNotFound` for a channel that does not exist.
    func saveChannelAudience(channel: String, body: Data) async throws
    /// The channel's signing key, if one was made. A channel deleted and made again has none.
    func channelSigningKey(channel: String) async throws -> ChannelSigningKey?
    /// A new signing key for the channel (the old one's tokens stop at once). `channelNotFound` otherwise.
    func rotateChannelSigningKey(channel: String, now: Date) async throws -> ChannelSigningKey

    // MARK: Tokens

    @discardableResult
    func revoke(_ scope: Revocation.Scope, at now: Date, expiresAt: Date) async throws -> Revocation
    func isRevoked(jti: String, sub: String, channel: String, issuedAt: Date) async throws -> Bool
    /// Revocations with an id above `after`, oldest first, at most `limit`.
    func revocations(after: Int64, limit: Int) async throws -> [Revocation]
    func latestRevocationID() async throws -> Int64
    @discardableResult
    func pruneRevocations(at now: Date) async throws -> Int
    /// Replaces the secret under `name`; the old one stays accepted until `now + overlap`.
    @discardableResult
    func rotateSecret(named name: String, overlap: TimeInterval, at now: Date) async throws -> Data
    func retiredSecrets(named name: String, at now: Date) async throws -> [RetiredSecret]

    // MARK: Analytics reads of the event log

    /// The records of a channel whose payload starts with one of `prefixes` (e.g. `{"broadcastStarted":`), oldest
    /// first; with `before`, only those with a smaller id.
    func eventRows(channel: String, startingWith prefixes: [Data], before: Int64?) async throws -> [EventRow]
    /// The records of a channel with `from <= id < until` (to the end without `until`), oldest first.
    func eventRows(channel: String, from: Int64, until: Int64?) async throws -> [EventRow]

    // MARK: Multistream destinations

    /// Adds a destination to `channel` unless it has `limit` already (``DestinationLimitReached``) or does not exist
    /// (`StoreError.channelNotFound`).
    func createDestination(channel: String, name: String, url: String, key: String, enabled: Bool, limit: Int,
                           now: Date) async throws -> Destination
    /// A channel's destinations, oldest first.
    func destinations(channel: String) async throws -> [Destination]
    func destination(id: String, channel: String) async throws -> Destination?
    /// Turns a destination on or off; nil when the channel has no such destination.
    func setDestination(id: String, channel: String, enabled: Bool) async throws -> Destination?
    /// Removes a destination; false when the channel had none by that id.
    func deleteDestination(id: String, channel: String) async throws -> Bool

    // MARK: Node claims (which node holds a channel's publisher, which its room)

    /// Claims `channel`'s publisher or room for `node` (reached at `address`): nil when the channel is now this node's; the
    /// claim of another node whose heartbeat is younger than `ttl` seconds otherwise (nothing changes). A stale claim
    /// is taken over. `StoreError.channelNotFound` for an unknown channel.
    func takeClaim(_ kind: ClaimKind, channel: String, node: String, address: String, now: Date, ttl: TimeInterval) async throws -> NodeClaim?
    /// Takes `channel` from the holder of `held`, found gone (it refused this node), if the claim is still exactly that
    /// one (same node, same heartbeat); nil when the claim is now `node`'s, the claim as it stands otherwise (another
    /// node took it first, or the holder renewed it). A missing claim is taken as `takeClaim` would.
    func replaceClaim(_ kind: ClaimKind, channel: String, node: String, address: String, now: Date, replacing held: NodeClaim) async throws -> NodeClaim?
    /// Renews the heartbeat of every claim of `kind` that `node` holds.
    func refreshClaims(_ kind: ClaimKind, node: String, now: Date) async throws
    /// Gives `channel` up if `node` holds it.
    func releaseClaim(_ kind: ClaimKind, channel: String, node: String) async throws
    /// The channel's claim, fresh or stale (``NodeClaim/isFresh(at:ttl:)``); nil when nobody claimed it.
    func currentClaim(_ kind: ClaimKind, channel: String) async throws -> NodeClaim?

    /// Releases the store's connections (a no-op for SQLite).
    func close() async
}

extension Store {
    public func createChannel(name: String, tenant: String = Tenant.defaultID) async throws -> (Channel, streamKey: String) {
        try await createChannel(name: name, tenant: tenant, now: Date())
    }

    /// Creates the channel unless it exists; the key is returned only when it was created.
    public func ensureChannel(name: String) async throws -> String? {
        do {
            return try await createChannel(name: name).streamKey
        } catch StoreError.channelExists {
            return nil
        }
    }

    public func createTenant(name: String, quotas: TenantQuotas = TenantQuotas()) async throws -> (Tenant, APIKey, secret: String) {
        try await createTenant(name: name, quotas: quotas, now: Date())
    }

    public func createAPIKey(tenant: String, scopes: [APIScope]) async throws -> (APIKey, secret: String) {
        try await createAPIKey(tenant: tenant, scopes: scopes, now: Date())
    }

    @discardableResult
    public func revokeAPIKey(tenant: String, id: String) async throws -> APIKey {
        try await revokeAPIKey(tenant: tenant, id: id, now: Date())
    }

    public func apiKey(forSecret secret: String) async throws -> APIKey? {
        try await apiKey(forSecret: secret, now: Date())
    }

    public func rotateChannelSigningKey(channel: String) async throws -> ChannelSigningKey {
        try await rotateChannelSigningKey(channel: channel, now: Date())
    }

    public func saveRundown(channel: String, body: Data) async throws {
        try await saveRundown(channel: channel, body: body, now: Date())
    }

    @discardableResult
    public func revoke(_ scope: Revocation.Scope, expiresAt: Date) async throws -> Revocation {
        try await revoke(scope, at: Date(), expiresAt: expiresAt)
    }

    public func revocations(after: Int64) async throws -> [Revocation] {
        try await revocations(after: after, limit: 1000)
    }

    @discardableResult
    public func rotateSecret(named name: String, overlap: TimeInterval) async throws -> Data {
        try await rotateSecret(named: name, overlap: overlap, at: Date())
    }

    public func retiredSecrets(named name: String) async throws -> [RetiredSecret] {
        try await retiredSecrets(named: name, at: Date())
    }

    public func eventRows(channel: String, startingWith prefixes: [Data]) async throws -> [EventRow] {
        try await eventRows(channel: channel, startingWith: prefixes, before: nil)
    }

    public func eventRows(channel: String, from: Int64) async throws -> [EventRow] {
        try await eventRows(channel: channel, from: from, until: nil)
    }

    public func createDestination(channel: String, name: String, url: String, key: String, enabled: Bool,
                                  limit: Int) async throws -> Destination {
        try await createDestination(channel: channel, name: name, url: url, key: key, enabled: enabled, limit: limit, now: Date())
    }
}
