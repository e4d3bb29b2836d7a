import Foundation

/// An event to queue for the webhooks subscribed to it (its type, its channel or nil, its body).
public typealias WebhookEventRow = SQLiteStore.WebhookEventRow
/// How one delivery attempt went.
public typealias WebhookAttemptOutcome = SQLiteStore.WebhookAttemptOutcome

/// Webhook subscriptions and their durable delivery queue and log, in SQLite (`SQLiteStore`, `SQLiteAsyncStore`) or
/// PostgreSQL (`PostgresStore`). Names and semantics are `SQLiteStore`'s (see `SQLiteStore+Webhooks.swift`); on
/// PostgreSQL several nodes may dispatch from one queue: a claim skips rows another node holds.
public protocol WebhookStore: Sendable {
    /// Adds a webhook unless `limit` exist already (`webhookLimit`); `channelNotFound` for a channel that does not exist.
    func createWebhook(url: String, events: [String], channel: String?, secret: String, limit: Int, now: Date) async throws -> Webhook
    func webhooks() async throws -> [Webhook]
    func webhook(id: String) async throws -> Webhook?
    /// Removes a webhook and its queue and log; false when there was none.
    func deleteWebhook(id: String) async throws -> Bool
    /// Queues each event for every subscriber (of it and its channel) in one transaction, except for webhooks that
    /// already have `maxPending` undelivered deliveries; returns how many deliveries were queued.
    @discardableResult
    func enqueueWebhookEvents(_ events: [WebhookEventRow], maxPending: Int, now: Date) async throws -> Int
    /// Queues one delivery for one webhook whatever its events; nil when there is no such webhook.
    func enqueueWebhookDelivery(webhookID: String, event: String, body: Data, now: Date) async throws -> Int64?
    /// Takes up to `limit` due deliveries, moving their next attempt `lease` ahead (a crash mid-send only delays them).
    func claimDueWebhookDeliveries(now: Date, limit: Int, lease: TimeInterval) async throws -> [DueWebhookDelivery]
    /// When the earliest pending delivery is due; nil when the queue is empty.
    func nextWebhookDeliveryDue() async throws -> Date?
    func recordWebhookAttempt(id: Int64, outcome: WebhookAttemptOutcome, now: Date) async throws
    /// A webhook's deliveries, newest first, at most `limit`.
    func webhookDeliveries(webhookID: String, limit: Int) async throws -> [WebhookDelivery]
    /// Forgets delivered and failed deliveries created before `cutoff`; returns how many.
    @discardableResult
    func pruneWebhookDeliveries(before cutoff: Date) async throws -> Int
}

extension SQLiteStore: WebhookStore {}

extension SQLiteAsyncStore {
    // Its WebhookStore part (through Store). GRDB's async API: these already run off the cooperative pool.
    public func createWebhook(url: String, events: [String], channel: String?, secret: String, limit: Int,
                              now: Date) async throws -> Webhook {
        try await sqlite.createWebhook(url: url, events: events, channel: channel, secret: secret, limit: limit, now: now)
    }
    public func webhooks() async throws -> [Webhook] { try await sqlite.webhooks() }
    public func webhook(id: String) async throws -> Webhook? { try await sqlite.webhook(id: id) }
    public func deleteWebhook(id: String) async throws -> Bool { try await sqlite.deleteWebhook(id: id) }
    @discardableResult
    public func enqueueWebhookEvents(_ events: [WebhookEventRow], maxPending: Int, now: Date) async throws -> Int {
        try await sqlite.enqueueWebhookEvents(events, maxPending: maxPending, now: now)
    }
    public func enqueueWebhookDelivery(webhookID: String, event: String, body: Data, now: Date) async throws -> Int64? {
        try await sqlite.enqueueWebhookDelivery(webhookID: webhookID, event: event, body: body, now: now)
    }
    public func claimDueWebhookDeliveries(now: Date, limit: Int, lease: TimeInterval) async throws -> [DueWebhookDelivery] {
        try await sqlite.claimDueWebhookDeliveries(now: now, limit: limit, lease: lease)
    }
    public func nextWebhookDeliveryDue() async throws -> Date? { try await sqlite.nextWebhookDeliveryDue() }
    public func recordWebhookAttempt(id: Int64, outcome: WebhookAttemptOutcome, now: Date) async throws {
        try await sqlite.recordWebhookAttempt(id: id, outcome: outcome, now: now)
    }
    public func webhookDeliveries(webhookID: String, limit: Int) async throws -> [WebhookDelivery] {
        try await sqlite.webhookDeliveries(webhookID: webhookID, limit: limit)
    }
    @discardableResult
    public func pruneWebhookDeliveries(before cutoff: Date) async throws -> Int {
        try await sqlite.pruneWebhookDeliveries(before: cutoff)
    }
}

extension WebhookStore {
    public func createWebhook(url: String, events: [String], channel: String?, secret: String, limit: Int) async throws -> Webhook {
        try await createWebhook(url: url, events: events, channel: channel, secret: secret, limit: limit, now: Date())
    }

    @discardableResult
    public func enqueueWebhookEvents(_ events: [WebhookEventRow], maxPending: Int) async throws -> Int {
        try await enqueueWebhookEvents(events, maxPending: maxPending, now: Date())
    }

    public func enqueueWebhookDelivery(webhookID: String, event: String, body: Data) async throws -> Int64? {
        try await enqueueWebhookDelivery(webhookID: webhookID, event: event, body: body, now: Date())
    }

    public func recordWebhookAttempt(id: Int64, outcome: WebhookAttemptOutcome) async throws {
        try await recordWebhookAttempt(id: id, outcome: outcome, now: Date())
    }
}
