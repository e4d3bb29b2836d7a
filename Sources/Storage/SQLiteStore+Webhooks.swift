import Foundation
import GRDB

/// A webhook subscription: where events go (`url`), which ones (`events`), optionally only one channel's. Its signing
/// secret is stored (it is needed to sign every delivery) but is never part of this value, so it cannot leak through
/// a listing or a log line.
public struct Webhook: Sendable, Equatable {
    public var id: String
    public var url: String
    public var events: [String]
    /// Only this channel's events; nil: every channel's (and server-wide ones).
    public var channel: String?
    public var createdAt: Date
}

/// One entry of the delivery queue and log: an event for one webhook, its body as it will be (or was) sent, and how
/// its attempts went. `pending` rows are the queue; `delivered` and `failed` rows are the log.
public struct WebhookDelivery: Sendable, Equatable {
    public enum State: String, Sendable {
        case pending, delivered, failed
    }

    public var id: Int64
    public var webhookID: String
    public var event: String
    public var body: Data
    public var attempts: Int
    public var state: State
    /// When the next attempt is due (pending only).
    public var nextAttemptAt: Date?
    /// The HTTP status of the last attempt, when one answered.
    public var lastStatus: Int?
    /// Why the last attempt failed, when it did (a network error or a status).
    public var lastError: String?
    public var lastAttemptAt: Date?
    public var createdAt: Date
}

/// A due delivery as the dispatcher needs it: the row plus where and with what secret to send it.
public struct DueWebhookDelivery: Sendable {
    public var id: Int64
    public var webhookID: String
    public var url: String
    public var secret: String
    public var event: String
    public var body: Data
    /// Attempts made before this one.
    public var attempts: Int
}

extension SQLiteStore {
    static func registerWebhooks(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("webhooks v1") { db in
            try db.create(table: "webhooks") { t in
                t.primaryKey("id", .text)
                t.column("url", .text).notNull()
                // Comma-separated, with a comma at both ends, so one LIKE finds a subscriber of an event.
                t.column("events", .text).notNull()
                t.column("channel", .text)
                t.column("secret", .text).notNull()
                t.column("created_at", .double).notNull()
            }
            try db.create(table: "webhook_deliveries") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("webhook_id", .text).notNull().references("webhooks", onDelete: .cascade)
                t.column("event", .text).notNull()
                t.column("body", .blob).notNull()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("state", .text).notNull()
                t.column("next_attempt_at", .double)
                t.column("last_status", .integer)
                t.column("last_error", .text)
                t.column("last_attempt_at", .double)
                t.column("created_at", .double).notNull()
            }
            try db.create(index: "webhook_deliveries_due", on: "webhook_deliveries", columns: ["state", "next_attempt_at"])
            try db.create(index: "webhook_deliveries_by_webhook", on: "webhook_deliveries", columns: ["webhook_id", "state"])
        }
    }

    // MARK: Subscriptions

    /// Adds a webhook unless `limit` webhooks exist already (`StoreError.webhookLimit`).
    public func createWebhook(url: String, events: [String], channel: String?, secret: String, limit: Int,
                              now: Date = Date()) async throws -> Webhook {
        let webhook = Webhook(id: Secrets.generate(prefix: "wh_"), url: url, events: events, channel: channel, createdAt: now)
        try await pool.write { db in
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM webhooks") ?? 0
            guard count < limit else { throw StoreError.webhookLimit(limit) }
            if let channel, try Row.fetchOne(db, sql: "SELECT 1 FROM channel WHERE name = ?", arguments: [channel]) == nil {
                throw StoreError.channelNotFound(channel)
            }
            try db.execute(
                sql: "INSERT INTO webhooks (id, url, events, channel, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [webhook.id, url, "," + events.joined(separator: ",") + ",", channel, secret, now.timeIntervalSince1970]
            )
        }
        return webhook
    }

    public func webhooks() async throws -> [Webhook] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, url, events, channel, created_at FROM webhooks ORDER BY created_at, id").map(Self.webhook)
        }
    }

    public func webhook(id: String) async throws -> Webhook? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT id, url, events, channel, created_at FROM webhooks WHERE id = ?", arguments: [id]).map(Self.webhook)
        }
    }

    /// Removes a webhook and its queue and log; false when there was none.
    public func deleteWebhook(id: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM webhook_deliveries WHERE webhook_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM webhooks WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    private static func webhook(_ row: Row) -> Webhook {
        let events: String = row["events"]
        return Webhook(id: row["id"], url: row["url"], events: events.split(separator: ",").map(String.init),
                       channel: row["channel"], createdAt: Date(timeIntervalSince1970: row["created_at"]))
    }

    // MARK: The queue

    /// An event to queue: its type, the channel it happened on (nil: server-wide) and its body.
    public struct WebhookEventRow: Sendable {
        public var event: String
        public var channel: String?
        public var body: Data
        public init(event: String, channel: String?, body: Data) {
            self.event = event
            self.channel = channel
            self.body = body
        }
    }

    /// Queues events for every webhook subscribed to each (and to its channel), in one transaction: once this returns,
    /// a restart cannot lose them. A webhook with `maxPending` undelivered events already gets no more (its receiver
    /// has been down for long; the queue must not grow without bound). Returns how many deliveries were queued.
    @discardableResult
    public func enqueueWebhookEvents(_ events: [WebhookEventRow], maxPending: Int, now: Date = Date()) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        return try await pool.write { db in
            let statement = try db.cachedStatement(sql: """
                INSERT INTO webhook_deliveries (webhook_id, event, body, attempts, state, next_attempt_at, created_at)
                SELECT w.id, ?, ?, 0, 'pending', ?, ? FROM webhooks w
                WHERE w.events LIKE ? AND (w.channel IS NULL OR w.channel = ?)
                  AND (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.state = 'pending') < ?
                """)
            var queued = 0
            for row in events {
                try statement.execute(arguments: [row.event, row.body, now.timeIntervalSince1970, now.timeIntervalSince1970,
                                                  "%," + row.event + ",%", row.channel, maxPending])
                queued += db.changesCount
            }
            return queued
        }
    }

    /// Queues one delivery for one webhook whatever its events (a test ping); nil when there is no such webhook.
    public func enqueueWebhookDelivery(webhookID: String, event: String, body: Data, now: Date = Date()) async throws -> Int64? {
        try await pool.write { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM webhooks WHERE id = ?", arguments: [webhookID]) != nil else { return nil }
            try db.execute(
                sql: """
                INSERT INTO webhook_deliveries (webhook_id, event, body, attempts, state, next_attempt_at, created_at)
                VALUES (?, ?, ?, 0, 'pending', ?, ?)
                """,
                arguments: [webhookID, event, body, now.timeIntervalSince1970, now.timeIntervalSince1970]
            )
            return db.lastInsertedRowID
        }
    }

    /// Takes up to `limit` due deliveries for sending: their next attempt moves `lease` ahead, so a crash in the middle
    /// of a send only delays them (after a restart they are due again) and a second dispatcher pass skips them.
    public func claimDueWebhookDeliveries(now: Date, limit: Int, lease: TimeInterval) async throws -> [DueWebhookDelivery] {
        guard limit > 0 else { return [] }
        return try await pool.write { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT d.id, d.webhook_id, w.url, w.secret, d.event, d.body, d.attempts FROM webhook_deliveries d
                JOIN webhooks w ON w.id = d.webhook_id
                WHERE d.state = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ?
                """, arguments: [now.timeIntervalSince1970, limit])
            let due = rows.map { row in
                DueWebhookDelivery(id: row["id"], webhookID: row["webhook_id"], url: row["url"], secret: row["secret"],
                                   event: row["event"], body: row["body"], attempts: row["attempts"])
            }
            let statement = try db.cachedStatement(sql: "UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?")
            for delivery in due { try statement.execute(arguments: [now.timeIntervalSince1970 + lease, delivery.id]) }
            return due
        }
    }

    /// When the earliest pending delivery is due, or nil when the queue is empty.
    public func nextWebhookDeliveryDue() async throws -> Date? {
        try await pool.read { db in
            try Double.fetchOne(db, sql: "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending'")
                .map(Date.init(timeIntervalSince1970:))
        }
    }

    /// How one attempt went: `retryAt` nil with a failure marks the delivery failed for good.
    public enum WebhookAttemptOutcome: Sendable {
        case delivered(status: Int)
        case retry(at: Date, status: Int?, error: String)
        case failed(status: Int?, error: String)
    }

    public func recordWebhookAttempt(id: Int64, outcome: WebhookAttemptOutcome, now: Date = Date()) async throws {
        let (state, next, status, error): (WebhookDelivery.State, Double?, Int?, String?) = switch outcome {
        case let .delivered(status): (.delivered, nil, status, nil)
        case let .retry(at, status, error): (.pending, at.timeIntervalSince1970, status, error)
        case let .failed(status, error): (.failed, nil, status, error)
        }
        try await pool.write { db in
            try db.execute(sql: """
                UPDATE webhook_deliveries SET attempts = attempts + 1, state = ?, next_attempt_at = ?, last_status = ?,
                last_error = ?, last_attempt_at = ? WHERE id = ?
                """, arguments: [state.rawValue, next, status, error, now.timeIntervalSince1970, id])
        }
    }

    /// A webhook's deliveries, newest first.
    public func webhookDeliveries(webhookID: String, limit: Int) async throws -> [WebhookDelivery] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, webhook_id, event, body, attempts, state, next_attempt_at, last_status, last_error, last_attempt_at,
                created_at FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?
                """, arguments: [webhookID, limit]).map { row in
                let state: String = row["state"]
                let next: Double? = row["next_attempt_at"]
                let last: Double? = row["last_attempt_at"]
                return WebhookDelivery(
                    id: row["id"], webhookID: row["webhook_id"], event: row["event"], body: row["body"], attempts: row["attempts"],
                    state: WebhookDelivery.State(rawValue: state) ?? .failed,
                    nextAttemptAt: state == "pending" ? next.map(Date.init(timeIntervalSince1970:)) : nil,
                    lastStatus: row["last_status"], lastError: row["last_error"],
                    lastAttemptAt: last.map(Date.init(timeIntervalSince1970:)),
                    createdAt: Date(timeIntervalSince1970: row["created_at"])
                )
            }
        }
    }

    /// Forgets delivered and failed deliveries created before `cutoff` (the log is kept for a while, not forever).
    @discardableResult
    public func pruneWebhookDeliveries(before cutoff: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM webhook_deliveries WHERE state != 'pending' AND created_at < ?",
                           arguments: [cutoff.timeIntervalSince1970])
            return db.changesCount
        }
    }
}
