import Foundation

/// `SQLiteStore` as a `Store`: each synchronous GRDB call runs off the cooperative pool (`offloaded`), the event log
/// goes through GRDB's async API as before. The same database file as the CLI and the server have always used.
public struct SQLiteAsyncStore: Store {
    public let sqlite: SQLiteStore

    public init(_ sqlite: SQLiteStore) {
        self.sqlite = sqlite
    }

    /// Opens (creating and migrating if needed) `DIR/liveloop.sqlite`.
    public init(directory: String) async throws {
        sqlite = try await offloaded { try SQLiteStore(directory: directory) }
    }

    public func close() async {}

    // MARK: Event log

    @discardableResult
    public func appendEvents(_ batch: [(channel: String, payload: Data)]) async throws -> [String: Int64] {
        try await sqlite.appendEvents(batch)
    }

    public func roomLog(channel: String) async throws -> RoomLog { try await sqlite.roomLog(channel: channel) }
    public func records(channel: String, after: Int64) async throws -> [Data] { try await sqlite.records(channel: channel, after: after) }
    public func saveCheckpoint(channel: String, through: Int64, body: Data) async throws {
        try await sqlite.saveCheckpoint(channel: channel, through: through, body: body)
    }
    public func deleteEvents(channel: String) async throws { try await sqlite.deleteEvents(channel: channel) }

    // MARK: Channels

    public func createChannel(name: String, tenant: String, now: Date) async throws -> (Channel, streamKey: String) {
        let sqlite = sqlite
        let (channel, key) = try await offloaded { try sqlite.createChannel(name: name, tenant: tenant, now: now) }
        return (channel, key)
    }

    public func channels() async throws -> [Channel] {
        let sqlite = sqlite
        return try await offloaded { try sqlite.channels() }
    }

    public func channel(named name: String) async throws -> Channel? {
        let sqlite = sqlite
        return try await offloaded { try sqlite.channel(named: name) }
    }

    public func channel(forStreamKey key: String) async throws -> Channel? {
        let sqlite = sqlite
        return try await offloaded { try sqlite.channel(forStreamKey: key) }
    }

    public func rotateKey(name: String) async throws -> String {
        let sqlite = sqlite
        return try await offloaded { try sqlite.rotateKey(name: name) }
    }

    public func deleteChannel(name: String) async throws {
        let sqlite = sqlite
        try await offloaded { try sqlite.deleteChannel(name: name) }
    }

    // MARK: Tenants and API keys

    public func createTenant(name: String, quotas: TenantQuotas, now: Date) async throws -> (Tenant, APIKey, secret: String) {
        let sqlite = sqlite
        let (tenant, key, secret) = try await offloaded { try sqlite.createTenant(name: name, quotas: quotas, now: now) }
        return (tenant, key, secret)
    }

    public func tenants() async throws -> [Tenant] {
        let sqlite = sqlite
        return try await offloaded { try sqlite.tenants() }
    }

    public func tenant(_ idOrName: String) async throws -> Tenant? {
        let sqlite = sqlite
        return try await offloaded { try sqlite.tenant(idOrName) }
    }

    public func setQuotas(tenant idOrName: String, _ quotas: TenantQuotas) async throws -> Tenant {
        let sqlite = sqlite
        return try await offloaded { try sqlite.setQuotas(tenant: idOrName, quotas) }
    }

    public func deleteTenant(_ idOrName: String) async throws {
        let sqlite = sqlite
        try await offloaded { try sqlite.deleteTenant(idOrName) }
    }

    public func channels(tenant: String) async throws -> [Channel] {
        let sqlite = sqlite
        return try await offloaded { try sqlite.channels(tenant: tenant) }
    }

    public func tenant(ofChannel channel: String) async throws -> Tenant? {
        let sqlite = sqlite
        return try await offloaded { try sqlite.tenant(ofChannel: channel) }
    }

    public func createAPIKey(tenant idOrName: String, scopes: [APIScope], now: Date) async throws -> (APIKey, secret: String) {
        let sqlite = sqlite
        let (key, secret) = try await offloaded { try sqlite.createAPIKey(tenant: idOrName, scopes: scopes, now: now) }
        return (key, secret)
    }

    public func apiKeys(tenant idOrName: String) async throws -> [APIKey] {
        let sqlite = sqlite
        return try await offloaded { try sqlite.apiKeys(tenant: idOrName) }
    }

    @discardableResult
    public func revokeAPIKey(tenant: String, id: String, now: Date) async throws -> APIKey {
        let sqlite = sqlite
        return try await offloaded { try sqlite.revokeAPIKey(tenant: tenant, id: id, now: now) }
    }

    public func rotateAPIKey(tenant: String, id: String) async throws -> (APIKey, secret: String) {
        let sqlite = sqlite
        let (key, secret) = try await offloaded { try sqlite.rotateAPIKey(tenant: tenant, id: id) }
        return (key, secret)
    }

    public func apiKey(forSecret secret: String, now: Date) async throws -> APIKey? {
        let sqlite = sqlite
        return try await offloaded { try sqlite.apiKey(forSecret: secret, now: now) }
    }

    // MARK: Channel audience and signing key

    public func channelAudience(channel: String) async throws -> Data? {
        let sqlite = sqlite
        return try await offloaded { try sqlite.channelAudience(channel: channel) }
    }

    public func saveChannelAudience(channel: String, body: Data) async throws {
        let sqlite = sqlite
        try await offloaded { try sqlite.saveChannelAudience(channel: channel, body: body) }
    }

    public func channelSigningKey(channel: String) async throws -> ChannelSigningKey? {
        let sqlite = sqlite
        return try await offloaded { try sqlite.channelSigningKey(channel: channel) }
    }

    public func rotateChannelSigningKey(channel: String, now: Date) async throws -> ChannelSigningKey {
        let sqlite = sqlite
        return try await offloaded { try sqlite.rotateChannelSigningKey(channel: channel, now: now) }
    }

    // MARK: Admin key and secrets

    public func ensureAdminKey() async throws -> String? {
        let sqlite = sqlite
        return try await offloaded { try sqlite.ensureAdminKey() }
    }

    public func rotateAdminKey() async throws -> String {
        let sqlite = sqlite
        return try await offloaded { try sqlite.rotateAdminKey() }
    }

    public func verifyAdminKey(_ key: String) async throws -> Bool {
        let sqlite = sqlite
        return try await offloaded { try sqlite.verifyAdminKey(key) }
    }

    public func storedSecret(named name: String) async throws -> Data? {
        let sqlite = sqlite
        return try await offloaded { try sqlite.storedSecret(named: name) }
    }

    public func secret(named name: String) async throws -> Data {
        let sqlite = sqlite
        return try await offloaded { try sqlite.secret(named: name) }
    }

    // MARK: Settings

    public func channelSettings(channel: String) async throws -> Data? {
        let sqlite = sqlite
        return try await offloaded { try sqlite.channelSettings(channel: channel) }
    }

    public func saveChannelSettings(channel: String, body: Data, allowAnonymous: Bool) async throws {
        let sqlite = sqlite
        try await offloaded { try sqlite.saveChannelSettings(channel: channel, body: body, allowAnonymous: allowAnonymous) }
    }

    public func videoSettings(channel: String) async throws -> ChannelVideoSettings {
        let sqlite = sqlite
        return try await offloaded { try sqlite.videoSettings(channel: channel) }
    }

    public func saveVideoSettings(channel: String, _ settings: ChannelVideoSettings) async throws {
        let sqlite = sqlite
        try await offloaded { try sqlite.saveVideoSettings(channel: channel, settings) }
    }

    public func rundown(channel: String) async throws -> Data? {
        let sqlite = sqlite
        return try await offloaded { try sqlite.rundown(channel: channel) }
    }

    public func saveRundown(channel: String, body: Data, now: Date) async throws {
        let sqlite = sqlite
        try await offloaded { try sqlite.saveRundown(channel: channel, body: body, now: now) }
    }

    // MARK: Tokens

    @discardableResult
    public func revoke(_ scope: Revocation.Scope, at now: Date, expiresAt: Date) async throws -> Revocation {
        let sqlite = sqlite
        return try await offloaded { try sqlite.revoke(scope, at: now, expiresAt: expiresAt) }
    }

    public func isRevoked(jti: String, sub: String, channel: String, issuedAt: Date) async throws -> Bool {
        let sqlite = sqlite
        return try await offloaded { try sqlite.isRevoked(jti: jti, sub: sub, channel: channel, issuedAt: issuedAt) }
    }

    public func revocations(after: Int64, limit: Int) async throws -> [Revocation] {
        let sqlite = sqlite
        return try await offloaded { try sqlite.revocations(after: after, limit: limit) }
    }

    public func latestRevocationID() async throws -> Int64 {
        let sqlite = sqlite
        return try await offloaded { try sqlite.latestRevocationID() }
    }

    @discardableResult
    public func pruneRevocations(at now: Date) async throws -> Int {
        let sqlite = sqlite
        return try await offloaded { try sqlite.pruneRevocations(at: now) }
    }

    @discardableResult
    public func rotateSecret(named name: String, overlap: TimeInterval, at now: Date) async throws -> Data {
        let sqlite = sqlite
        return try await offloaded { try sqlite.rotateSecret(named: name, overlap: overlap, at: now) }
    }

    public func retiredSecrets(named name: String, at now: Date) async throws -> [RetiredSecret] {
        let sqlite = sqlite
        return try await offloaded { try sqlite.retiredSecrets(named: name, at: now) }
    }

    // MARK: Analytics

    public func eventRows(channel: String, startingWith prefixes: [Data], before: Int64?) async throws -> [EventRow] {
        let sqlite = sqlite
        return try await offloaded { try sqlite.eventRows(channel: channel, startingWith: prefixes, before: before) }
    }

    public func eventRows(channel: String, from: Int64, until: Int64?) async throws -> [EventRow] {
        let sqlite = sqlite
        return try await offloaded { try sqlite.eventRows(channel: channel, from: from, until: until) }
    }

    // MARK: Destinations (GRDB's async API: already off the cooperative pool)

    public func createDestination(channel: String, name: String, url: String, key: String, enabled: Bool, limit: Int,
                                  now: Date) async throws -> Destination {
        try await sqlite.createDestination(channel: channel, name: name, url: url, key: key, enabled: enabled, limit: limit, now: now)
    }

    public func destinations(channel: String) async throws -> [Destination] { try await sqlite.destinations(channel: channel) }

    public func destination(id: String, channel: String) async throws -> Destination? {
        try await sqlite.destination(id: id, channel: channel)
    }

    public func setDestination(id: String, channel: String, enabled: Bool) async throws -> Destination? {
        try await sqlite.setDestination(id: id, channel: channel, enabled: enabled)
    }

    public func deleteDestination(id: String, channel: String) async throws -> Bool {
        try await sqlite.deleteDestination(id: id, channel: channel)
    }

    // MARK: Publisher claims (GRDB's async API)

    public func takeClaim(_ kind: ClaimKind, channel: String, node: String, address: String, now: Date, ttl: TimeInterval) async throws -> NodeClaim? {
        try await sqlite.takeClaim(kind, channel: channel, node: node, address: address, now: now, ttl: ttl)
    }

    public func replaceClaim(_ kind: ClaimKind, channel: String, node: String, address: String, now: Date, replacing held: NodeClaim) async throws -> NodeClaim? {
        try await sqlite.replaceClaim(kind, channel: channel, node: node, address: address, now: now, replacing: held)
    }

    public func refreshClaims(_ kind: ClaimKind, node: String, now: Date) async throws { try await sqlite.refreshClaims(kind, node: node, now: now) }
    public func releaseClaim(_ kind: ClaimKind, channel: String, node: String) async throws { try await sqlite.releaseClaim(kind, channel: channel, node: node) }
    public func currentClaim(_ kind: ClaimKind, channel: String) async throws -> NodeClaim? { try await sqlite.currentClaim(kind, channel: channel) }
}
