import Foundation
import Synchronization

/// A store that keeps answering reads while the database is away: every read the server serves from (channels,
/// tenants, credentials, settings, audience and signing keys, destinations, webhooks) is passed
/// through while the database answers, and its last answer is kept; when a read fails because the database cannot be
/// reached (``StoreAvailability/isUnavailable(_:)``), the last answer is given instead. Writes always go through (and
/// are refused while the database is away); a write made here to what reads keep forgets every kept answer, so a
/// read never answers older than this node's own changes (a token revocation or an event-log write forgets none).
/// What other nodes change while the database is away cannot be seen, and is not.
///
/// For a second after a read found the database away, reads with a kept answer do not ask it again (a partitioned
/// database would hold each for its connect timeout); reads without one fail at once with ``StoreUnavailable``.
///
/// Bounded: at most `capacity` answers are kept (all are dropped when it is reached; the next reads fill it again);
/// a credential is kept by its SHA-256, only when it was accepted. Token revocations are mirrored whole (refreshed
/// at most every 5 s while the database answers, this node's own at once, at most 50,000), so a token is still
/// checked against every revocation during an outage; when the mirror is not complete, the check fails (refused).
public final class LastKnownStore: Store {
    public let base: any Store
    private let capacity: Int
    private let state = Mutex(State())
    private let mirror = Mutex(RevocationMirror())

    private struct State {
        var answers: [String: any Sendable] = [:]
        /// Until when reads are answered from what is kept without asking the database.
        var awayUntil: ContinuousClock.Instant?
        /// Counts the writes made here, so a read that overlapped one does not keep its answer.
        var generation = 0
    }

    private struct RevocationMirror {
        var revocations: [Revocation] = []
        var through: Int64 = 0
        var complete = false
        var refreshing = false
        var refreshed: ContinuousClock.Instant?
    }

    static let awayRetry: Duration = .seconds(1)
    static let mirrorInterval: Duration = .seconds(5)
    static let mirrorCapacity = 50_000

    public init(_ base: any Store, capacity: Int = 20_000) {
        self.base = base
        self.capacity = capacity
    }

    /// How many answers are kept now (for tests and metrics).
    public var keptAnswers: Int { state.withLock { $0.answers.count } }

    // MARK: The read and write paths

    private var isAway: Bool {
        let now = ContinuousClock.now
        return state.withLock { $0.awayUntil.map { now < $0 } ?? false }
    }

    private func markAway() {
        state.withLock { $0.awayUntil = ContinuousClock.now + Self.awayRetry }
    }

    private func read<T: Sendable>(_ key: String, keepIf keep: (T) -> Bool = { _ in true },
                                   _ body: () async throws -> T) async throws -> T {
        let now = ContinuousClock.now
        let (kept, away, generation) = state.withLock { state -> (T?, Bool, Int) in
            (state.answers[key] as? T, state.awayUntil.map { now < $0 } ?? false, state.generation)
        }
        if away {
            if let kept { return kept }
            throw StoreUnavailable("the database is away and this was not read before")
        }
        do {
            let value = try await body()
            state.withLock { state in
                state.awayUntil = nil
                // A write finished while this read was out: its answer may be older than the write.
                guard state.generation == generation else { return }
                guard keep(value) else { state.answers[key] = nil; return }
                if state.answers[key] == nil, state.answers.count >= capacity { state.answers.removeAll(keepingCapacity: true) }
                state.answers[key] = value
            }
            return value
        } catch where StoreAvailability.isUnavailable(error) {
            markAway()
            if let kept { return kept }
            throw error
        }
    }

    /// A refused write (the database away) keeps every answer: the outage must not wipe what reads go on with.
    private func write<T>(_ body: () async throws -> T) async throws -> T {
        let result = try await body()
        state.withLock { state in
            state.answers.removeAll(keepingCapacity: true)
            state.generation += 1
        }
        return result
    }

    private static func key(_ parts: String...) -> String { parts.joined(separator: "\u{0}") }

    private static func secretKey(_ kind: String, _ secret: String) -> String {
        key(kind, Secrets.hash(secret).base64EncodedString())
    }

    // MARK: Channels

    public func createChannel(name: String, tenant: String, now: Date) async throws -> (Channel, streamKey: String) {
        try await write { try await base.createChannel(name: name, tenant: tenant, now: now) }
    }

    public func channels() async throws -> [Channel] {
        try await read("channels") { try await base.channels() }
    }

    public func channel(named name: String) async throws -> Channel? {
        try await read(Self.key("channel", name), keepIf: { $0 != nil }) { try await base.channel(named: name) }
    }

    public func channel(forStreamKey key: String) async throws -> Channel? {
        try await read(Self.secretKey("streamKey", key), keepIf: { $0 != nil }) { try await base.channel(forStreamKey: key) }
    }

    public func rotateKey(name: String) async throws -> String {
        try await write { try await base.rotateKey(name: name) }
    }

    public func deleteChannel(name: String) async throws {
        try await write { try await base.deleteChannel(name: name) }
    }

    // MARK: Tenants and API keys

    public func createTenant(name: String, quotas: TenantQuotas, now: Date) async throws -> (Tenant, APIKey, secret: String) {
        try await write { try await base.createTenant(name: name, quotas: quotas, now: now) }
    }

    public func tenants() async throws -> [Tenant] {
        try await read("tenants") { try await base.tenants() }
    }

    public func tenant(_ idOrName: String) async throws -> Tenant? {
        try await read(Self.key("tenant", idOrName), keepIf: { $0 != nil }) { try await base.tenant(idOrName) }
    }

    public func setQuotas(tenant idOrName: String, _ quotas: TenantQuotas) async throws -> Tenant {
        try await write { try await base.setQuotas(tenant: idOrName, quotas) }
    }

    public func deleteTenant(_ idOrName: String) async throws {
        try await write { try await base.deleteTenant(idOrName) }
    }

    public func channels(tenant: String) async throws -> [Channel] {
        try await read(Self.key("tenantChannels", tenant)) { try await base.channels(tenant: tenant) }
    }

    public func tenant(ofChannel channel: String) async throws -> Tenant? {
        try await read(Self.key("channelTenant", channel), keepIf: { $0 != nil }) { try await base.tenant(ofChannel: channel) }
    }

    public func createAPIKey(tenant idOrName: String, scopes: [APIScope], now: Date) async throws -> (APIKey, secret: String) {
        try await write { try await base.createAPIKey(tenant: idOrName, scopes: scopes, now: now) }
    }

    public func apiKeys(tenant idOrName: String) async throws -> [APIKey] {
        try await read(Self.key("apiKeys", idOrName)) { try await base.apiKeys(tenant: idOrName) }
    }

    public func revokeAPIKey(tenant: String, id: String, now: Date) async throws -> APIKey {
        try await write { try await base.revokeAPIKey(tenant: tenant, id: id, now: now) }
    }

    public func rotateAPIKey(tenant: String, id: String) async throws -> (APIKey, secret: String) {
        try await write { try await base.rotateAPIKey(tenant: tenant, id: id) }
    }

    public func apiKey(forSecret secret: String, now: Date) async throws -> APIKey? {
        // Only accepted keys are kept: a stranger's guesses fill nothing.
        try await read(Self.secretKey("apiKey", secret), keepIf: { $0 != nil }) { try await base.apiKey(forSecret: secret, now: now) }
    }

    // MARK: Admin key and secrets

    public func ensureAdminKey() async throws -> String? {
        try await write { try await base.ensureAdminKey() }
    }

    public func rotateAdminKey() async throws -> String {
        try await write { try await base.rotateAdminKey() }
    }

    public func verifyAdminKey(_ key: String) async throws -> Bool {
        try await read(Self.secretKey("adminKey", key), keepIf: { $0 }) { try await base.verifyAdminKey(key) }
    }

    public func storedSecret(named name: String) async throws -> Data? {
        try await read(Self.key("secret", name), keepIf: { $0 != nil }) { try await base.storedSecret(named: name) }
    }

    public func secret(named name: String) async throws -> Data {
        // The first call makes the secret: an answer, not a change of anything a read keeps.
        try await read(Self.key("madeSecret", name)) { try await base.secret(named: name) }
    }

    // MARK: Channel settings, video settings, rundowns

    public func channelSettings(channel: String) async throws -> Data? {
        try await read(Self.key("settings", channel)) { try await base.channelSettings(channel: channel) }
    }

    public func saveChannelSettings(channel: String, body: Data, allowAnonymous: Bool) async throws {
        try await write { try await base.saveChannelSettings(channel: channel, body: body, allowAnonymous: allowAnonymous) }
    }

    public func videoSettings(channel: String) async throws -> ChannelVideoSettings {
        try await read(Self.key("video", channel)) { try await base.videoSettings(channel: channel) }
    }

    public func saveVideoSettings(channel: String, _ settings: ChannelVideoSettings) async throws {
        try await write { try await base.saveVideoSettings(channel: channel, settings) }
    }

    public func rundown(channel: String) async throws -> Data? {
        try await read(Self.key("rundown", channel)) { try await base.rundown(channel: channel) }
    }

    public func saveRundown(channel: String, body: Data, now: Date) async throws {
        try await write { try await base.saveRundown(channel: channel, body: body, now: now) }
    }

    // MARK: Channel audience and signing key

    public func channelAudience(channel: String) async throws -> Data? {
        try await read(Self.key("audience", channel)) { try await base.channelAudience(channel: channel) }
    }

    public func saveChannelAudience(channel: String, body: Data) async throws {
        try await write { try await base.saveChannelAudience(channel: channel, body: body) }
    }

    public func channelSigningKey(channel: String) async throws -> ChannelSigningKey? {
        try await read(Self.key("signingKey", channel)) { try await base.channelSigningKey(channel: channel) }
    }

    public func rotateChannelSigningKey(channel: String, now: Date) async throws -> ChannelSigningKey {
        try await write { try await base.rotateChannelSigningKey(channel: channel, now: now) }
    }

    // MARK: Tokens

    public func revoke(_ scope: Revocation.Scope, at now: Date, expiresAt: Date) async throws -> Revocation {
        // No kept answer depends on revocations (they are the mirror's), so every kept answer stays: a revocation just
        // before an outage must not leave the node unable to check a key. It is in the mirror at once.
        let revocation = try await base.revoke(scope, at: now, expiresAt: expiresAt)
        mirror.withLock { mirror in
            if mirror.complete, mirror.revocations.count < Self.mirrorCapacity { mirror.revocations.append(revocation) }
        }
        return revocation
    }

    /// Not kept per token (every connection would add an answer): while the database is away a token is checked
    /// against the mirror of every revocation.
    public func isRevoked(jti: String, sub: String, channel: String, issuedAt: Date) async throws -> Bool {
        if isAway { return try mirrored(jti: jti, sub: sub, channel: channel, issuedAt: issuedAt) }
        do {
            let revoked = try await base.isRevoked(jti: jti, sub: sub, channel: channel, issuedAt: issuedAt)
            refreshMirrorIfDue()
            return revoked
        } catch where StoreAvailability.isUnavailable(error) {
            markAway()
            return try mirrored(jti: jti, sub: sub, channel: channel, issuedAt: issuedAt)
        }
    }

    private func mirrored(jti: String, sub: String, channel: String, issuedAt: Date) throws -> Bool {
        let now = Date()
        let answer = mirror.withLock { mirror -> Bool? in
            guard mirror.complete else { return nil }
            return mirror.revocations.contains {
                $0.expiresAt > now && $0.covers(jti: jti, sub: sub, channel: channel, issuedAt: issuedAt)
            }
        }
        guard let answer else { throw StoreUnavailable("the database is away and the revocations are not all known") }
        return answer
    }

    /// Reads the revocations made since the mirror's last one, in the background, at most every 5 s.
    private func refreshMirrorIfDue() {
        let now = ContinuousClock.now
        let after: Int64? = mirror.withLock { mirror in
            guard !mirror.refreshing, mirror.refreshed.map({ now - $0 >= Self.mirrorInterval }) ?? true else { return nil }
            mirror.refreshing = true
            return mirror.through
        }
        guard var after else { return }
        Task { [self] in
            var fresh: [Revocation] = []
            var complete = true
            do {
                while true {
                    let page = try await base.revocations(after: after, limit: 1000)
                    fresh += page
                    guard let last = page.last, page.count == 1000 else { break }
                    after = last.id
                    if fresh.count > Self.mirrorCapacity { complete = false; break }
                }
            } catch {
                complete = false
            }
            let now = Date()
            self.mirror.withLock { mirror in
                mirror.refreshing = false
                mirror.refreshed = ContinuousClock.now
                guard complete else { return }
                mirror.revocations.removeAll { $0.expiresAt <= now }
                mirror.revocations += fresh
                mirror.through = max(mirror.through, fresh.last?.id ?? mirror.through)
                if mirror.revocations.count > Self.mirrorCapacity {
                    mirror = RevocationMirror(refreshed: ContinuousClock.now)
                } else {
                    mirror.complete = true
                }
            }
        }
    }

    public func revocations(after: Int64, limit: Int) async throws -> [Revocation] {
        try await base.revocations(after: after, limit: limit)
    }

    public func latestRevocationID() async throws -> Int64 {
        try await base.latestRevocationID()
    }

    public func pruneRevocations(at now: Date) async throws -> Int {
        try await base.pruneRevocations(at: now)
    }

    public func rotateSecret(named name: String, overlap: TimeInterval, at now: Date) async throws -> Data {
        try await write { try await base.rotateSecret(named: name, overlap: overlap, at: now) }
    }

    public func retiredSecrets(named name: String, at now: Date) async throws -> [RetiredSecret] {
        try await base.retiredSecrets(named: name, at: now)
    }

    // MARK: Analytics reads of the event log

    public func eventRows(channel: String, startingWith prefixes: [Data], before: Int64?) async throws -> [EventRow] {
        try await base.eventRows(channel: channel, startingWith: prefixes, before: before)
    }

    public func eventRows(channel: String, from: Int64, until: Int64?) async throws -> [EventRow] {
        try await base.eventRows(channel: channel, from: from, until: until)
    }

    // MARK: Multistream destinations

    public func createDestination(channel: String, name: String, url: String, key: String, enabled: Bool, limit: Int,
                                  now: Date) async throws -> Destination {
        try await write {
            try await base.createDestination(channel: channel, name: name, url: url, key: key, enabled: enabled, limit: limit, now: now)
        }
    }

    public func destinations(channel: String) async throws -> [Destination] {
        try await read(Self.key("destinations", channel)) { try await base.destinations(channel: channel) }
    }

    public func destination(id: String, channel: String) async throws -> Destination? {
        try await read(Self.key("destination", channel, id), keepIf: { $0 != nil }) { try await base.destination(id: id, channel: channel) }
    }

    public func setDestination(id: String, channel: String, enabled: Bool) async throws -> Destination? {
        try await write { try await base.setDestination(id: id, channel: channel, enabled: enabled) }
    }

    public func deleteDestination(id: String, channel: String) async throws -> Bool {
        try await write { try await base.deleteDestination(id: id, channel: channel) }
    }

    // MARK: Node claims: always the database's answer (a kept claim would send viewers to a dead node)

    public func takeClaim(_ kind: ClaimKind, channel: String, node: String, address: String, now: Date,
                          ttl: TimeInterval) async throws -> NodeClaim? {
        try await base.takeClaim(kind, channel: channel, node: node, address: address, now: now, ttl: ttl)
    }

    public func replaceClaim(_ kind: ClaimKind, channel: String, node: String, address: String, now: Date,
                             replacing held: NodeClaim) async throws -> NodeClaim? {
        try await base.replaceClaim(kind, channel: channel, node: node, address: address, now: now, replacing: held)
    }

    public func refreshClaims(_ kind: ClaimKind, node: String, now: Date) async throws {
        try await base.refreshClaims(kind, node: node, now: now)
    }

    public func releaseClaim(_ kind: ClaimKind, channel: String, node: String) async throws {
        try await base.releaseClaim(kind, channel: channel, node: node)
    }

    public func currentClaim(_ kind: ClaimKind, channel: String) async throws -> NodeClaim? {
        try await base.currentClaim(kind, channel: channel)
    }

    public func close() async {
        await base.close()
    }

    // MARK: The event log: the room's own path (its commit refuses while the database is away)

    public func appendEvents(_ batch: [(channel: String, payload: Data)]) async throws -> [String: Int64] {
        try await base.appendEvents(batch)
    }

    public func roomLog(channel: String) async throws -> RoomLog {
        try await base.roomLog(channel: channel)
    }

    public func records(channel: String, after: Int64) async throws -> [Data] {
        try await base.records(channel: channel, after: after)
    }

    public func saveCheckpoint(channel: String, through: Int64, body: Data) async throws {
        try await base.saveCheckpoint(channel: channel, through: through, body: body)
    }

    public func deleteEvents(channel: String) async throws {
        try await base.deleteEvents(channel: channel)
    }

    // MARK: Webhooks

    public func createWebhook(url: String, events: [String], channel: String?, secret: String, limit: Int,
                              now: Date) async throws -> Webhook {
        try await write { try await base.createWebhook(url: url, events: events, channel: channel, secret: secret, limit: limit, now: now) }
    }

    public func webhooks() async throws -> [Webhook] {
        try await read("webhooks") { try await base.webhooks() }
    }

    public func webhook(id: String) async throws -> Webhook? {
        try await read(Self.key("webhook", id), keepIf: { $0 != nil }) { try await base.webhook(id: id) }
    }

    public func deleteWebhook(id: String) async throws -> Bool {
        try await write { try await base.deleteWebhook(id: id) }
    }

    public func enqueueWebhookEvents(_ events: [WebhookEventRow], maxPending: Int, now: Date) async throws -> Int {
        try await base.enqueueWebhookEvents(events, maxPending: maxPending, now: now)
    }

    public func enqueueWebhookDelivery(webhookID: String, event: String, body: Data, now: Date) async throws -> Int64? {
        try await base.enqueueWebhookDelivery(webhookID: webhookID, event: event, body: body, now: now)
    }

    public func claimDueWebhookDeliveries(now: Date, limit: Int, lease: TimeInterval) async throws -> [DueWebhookDelivery] {
        try await base.claimDueWebhookDeliveries(now: now, limit: limit, lease: lease)
    }

    public func nextWebhookDeliveryDue() async throws -> Date? {
        try await base.nextWebhookDeliveryDue()
    }

    public func recordWebhookAttempt(id: Int64, outcome: WebhookAttemptOutcome, now: Date) async throws {
        try await base.recordWebhookAttempt(id: id, outcome: outcome, now: now)
    }

    public func webhookDeliveries(webhookID: String, limit: Int) async throws -> [WebhookDelivery] {
        try await base.webhookDeliveries(webhookID: webhookID, limit: limit)
    }

    public func pruneWebhookDeliveries(before cutoff: Date) async throws -> Int {
        try await base.pruneWebhookDeliveries(before: cutoff)
    }
}
