import Foundation
import PostgresNIO

/// Webhooks and their delivery queue and log in PostgreSQL (migration "webhooks v1"), with `SQLiteStore`'s semantics.
/// Several nodes may share the queue: a claim takes rows with `FOR UPDATE SKIP LOCKED`, so two dispatchers never
/// claim the same delivery; the webhook count limit is checked under a transaction-scoped advisory lock.
extension PostgresStore {
    static let webhookMigration: (name: String, sql: [String]) = ("webhooks v1", [
        """
        CREATE TABLE webhook (id TEXT PRIMARY KEY, url TEXT NOT NULL, events TEXT NOT NULL, channel TEXT,
            secret TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL)
        """,
        """
        CREATE TABLE webhook_delivery (id BIGSERIAL PRIMARY KEY,
            webhook_id TEXT NOT NULL REFERENCES webhook (id) ON DELETE CASCADE, event TEXT NOT NULL, body BYTEA NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, next_attempt_at DOUBLE PRECISION,
            last_status INTEGER, last_error TEXT, last_attempt_at DOUBLE PRECISION, created_at DOUBLE PRECISION NOT NULL)
        """,
        "CREATE INDEX webhook_delivery_due ON webhook_delivery (state, next_attempt_at)",
        "CREATE INDEX webhook_delivery_by_webhook ON webhook_delivery (webhook_id, state)",
    ])

    /// The advisory lock that serialises webhook creation (so the limit holds across nodes).
    private static let webhookLock: Int64 = 7_421_550_002

    // MARK: Subscriptions

    public func createWebhook(url: String, events: [String], channel: String?, secret: String, limit: Int,
                              now: Date) async throws -> Webhook {
        let webhook = Webhook(id: Secrets.generate(prefix: "wh_"), url: url, events: events, channel: channel, createdAt: now)
        let stored = "," + events.joined(separator: ",") + ","
        let logger = logger
        try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.webhookLock))", logger: logger)
            let count = try await Self.count(connection, "SELECT COUNT(*) FROM webhook", logger)
            guard count < limit else { throw StoreError.webhookLimit(limit) }
            if let channel, try await Self.count(connection, "SELECT COUNT(*) FROM channel WHERE name = \(channel)", logger) == 0 {
                throw StoreError.channelNotFound(channel)
            }
            try await connection.query("""
                INSERT INTO webhook (id, url, events, channel, secret, created_at)
                VALUES (\(webhook.id), \(url), \(stored), \(channel), \(secret), \(now.timeIntervalSince1970))
                """, logger: logger)
        }
        return webhook
    }

    public func webhooks() async throws -> [Webhook] {
        try await fetchWebhooks("SELECT id, url, events, channel, created_at FROM webhook ORDER BY created_at, id")
    }

    public func webhook(id: String) async throws -> Webhook? {
        try await fetchWebhooks("SELECT id, url, events, channel, created_at FROM webhook WHERE id = \(id)").first
    }

    public func deleteWebhook(id: String) async throws -> Bool {
        // The deliveries go with it (ON DELETE CASCADE).
        var deleted = false
        let rows = try await client.query("DELETE FROM webhook WHERE id = \(id) RETURNING id", logger: logger)
        for try await _ in rows.decode(String.self) { deleted = true }
        return deleted
    }

    private func fetchWebhooks(_ query: PostgresQuery) async throws -> [Webhook] {
        var webhooks: [Webhook] = []
        let rows = try await client.query(query, logger: logger)
        for try await (id, url, events, channel, createdAt) in rows.decode((String, String, String, String?, Double).self) {
            webhooks.append(Webhook(id: id, url: url, events: events.split(separator: ",").map(String.init), channel: channel,
                                    createdAt: Date(timeIntervalSince1970: createdAt)))
        }
        return webhooks
    }

    // MARK: The queue

    @discardableResult
    public func enqueueWebhookEvents(_ events: [WebhookEventRow], maxPending: Int, now: Date) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        let logger = logger
        let at = now.timeIntervalSince1970
        var queued = 0
        try await transaction { connection in
            for row in events {
                let inserted = try await connection.query("""
                    INSERT INTO webhook_delivery (webhook_id, event, body, attempts, state, next_attempt_at, created_at)
                    SELECT w.id, \(row.event), \(ByteBuffer(bytes: row.body)), 0, 'pending', \(at), \(at) FROM webhook w
                    WHERE w.events LIKE \("%," + row.event + ",%") AND (w.channel IS NULL OR w.channel = \(row.channel))
                      AND (SELECT COUNT(*) FROM webhook_delivery d WHERE d.webhook_id = w.id AND d.state = 'pending') < \(maxPending)
                    RETURNING id
                    """, logger: logger)
                for try await _ in inserted.decode(Int64.self) { queued += 1 }
            }
        }
        return queued
    }

    public func enqueueWebhookDelivery(webhookID: String, event: String, body: Data, now: Date) async throws -> Int64? {
        let at = now.timeIntervalSince1970
        let rows = try await client.query("""
            INSERT INTO webhook_delivery (webhook_id, event, body, attempts, state, next_attempt_at, created_at)
            SELECT id, \(event), \(ByteBuffer(bytes: body)), 0, 'pending', \(at), \(at) FROM webhook WHERE id = \(webhookID)
            RETURNING id
            """, logger: logger)
        var id: Int64?
        for try await value in rows.decode(Int64.self) { id = value }
        return id
    }

    public func claimDueWebhookDeliveries(now: Date, limit: Int, lease: TimeInterval) async throws -> [DueWebhookDelivery] {
        guard limit > 0 else { return [] }
        let rows = try await client.query("""
            WITH due AS (
                SELECT id, next_attempt_at AS due_at FROM webhook_delivery
                WHERE state = 'pending' AND next_attempt_at <= \(now.timeIntervalSince1970)
                ORDER BY next_attempt_at, id LIMIT \(limit) FOR UPDATE SKIP LOCKED
            ), claimed AS (
                UPDATE webhook_delivery d SET next_attempt_at = \(now.timeIntervalSince1970 + lease) FROM due
                WHERE d.id = due.id RETURNING d.id, d.webhook_id, d.event, d.body, d.attempts, due.due_at
            )
            SELECT c.id, c.webhook_id, w.url, w.secret, c.event, c.body, c.attempts FROM claimed c
            JOIN webhook w ON w.id = c.webhook_id ORDER BY c.due_at, c.id
            """, logger: logger)
        var due: [DueWebhookDelivery] = []
        for try await (id, webhookID, url, secret, event, body, attempts)
            in rows.decode((Int64, String, String, String, String, Data, Int).self) {
            due.append(DueWebhookDelivery(id: id, webhookID: webhookID, url: url, secret: secret, event: event, body: body,
                                          attempts: attempts))
        }
        return due
    }

    public func nextWebhookDeliveryDue() async throws -> Date? {
        let rows = try await client.query(
            "SELECT MIN(next_attempt_at) FROM webhook_delivery WHERE state = 'pending'", logger: logger)
        var next: Double?
        for try await value in rows.decode(Double?.self) { next = value }
        return next.map(Date.init(timeIntervalSince1970:))
    }

    public func recordWebhookAttempt(id: Int64, outcome: WebhookAttemptOutcome, now: Date) async throws {
        let (state, next, status, error): (WebhookDelivery.State, Double?, Int?, String?) = switch outcome {
        case let .delivered(status): (.delivered, nil, status, nil)
        case let .retry(at, status, error): (.pending, at.timeIntervalSince1970, status, error)
        case let .failed(status, error): (.failed, nil, status, error)
        }
        try await client.query("""
            UPDATE webhook_delivery SET attempts = attempts + 1, state = \(state.rawValue), next_attempt_at = \(next),
                last_status = \(status), last_error = \(error), last_attempt_at = \(now.timeIntervalSince1970) WHERE id = \(id)
            """, logger: logger)
    }

    public func webhookDeliveries(webhookID: String, limit: Int) async throws -> [WebhookDelivery] {
        let rows = try await client.query("""
            SELECT id, webhook_id, event, body, attempts, state, next_attempt_at, last_status, last_error, last_attempt_at,
                created_at FROM webhook_delivery WHERE webhook_id = \(webhookID) ORDER BY id DESC LIMIT \(limit)
            """, logger: logger)
        var deliveries: [WebhookDelivery] = []
        for try await (id, webhook, event, body, attempts, state, next, status, error, last, created)
            in rows.decode((Int64, String, String, Data, Int, String, Double?, Int?, String?, Double?, Double).self) {
            deliveries.append(WebhookDelivery(
                id: id, webhookID: webhook, event: event, body: body, attempts: attempts,
                state: WebhookDelivery.State(rawValue: state) ?? .failed,
                nextAttemptAt: state == "pending" ? next.map(Date.init(timeIntervalSince1970:)) : nil,
                lastStatus: status, lastError: error, lastAttemptAt: last.map(Date.init(timeIntervalSince1970:)),
                createdAt: Date(timeIntervalSince1970: created)
            ))
        }
        return deliveries
    }

    @discardableResult
    public func pruneWebhookDeliveries(before cutoff: Date) async throws -> Int {
        let rows = try await client.query("""
            DELETE FROM webhook_delivery WHERE state != 'pending' AND created_at < \(cutoff.timeIntervalSince1970) RETURNING id
            """, logger: logger)
        var removed = 0
        for try await _ in rows.decode(Int64.self) { removed += 1 }
        return removed
    }
}
