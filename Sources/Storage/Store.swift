import Foundation

/// What the server and the CLI read and write, whichever database holds it: SQLite (`SQLiteStore`, wrapped by
/// `SQLiteAsyncStore`, the default) or PostgreSQL (`PostgresStore`, `--database postgres://…`).
///
/// Every call is asynchronous and none blocks the cooperative pool. Names and semantics follow `SQLiteStore`'s
/// methods of the same name; the tests in `StoreTests` run each against both stores.
///
/// Covered so far: channels and their stream keys, the admin key and server secrets, channel settings, video
/// settings and rundowns, token revocations and signing-secret rotation, and (via `EventLog`) the interaction log.
/// Tenants' API keys, webhooks and analytics reads are still `SQLiteStore`-only.
public protocol Store: EventLog {
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
}
