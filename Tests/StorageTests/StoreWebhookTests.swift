import Foundation
import Storage
import Testing

/// Webhooks and their delivery queue through `WebhookStore`, against SQLite and PostgreSQL: what the dispatcher and
/// the webhook API rely on (the limit, subscriptions by event and channel, the pending cap, claims with a lease, the
/// log, pruning), and that the queue survives the store being closed and opened again.
@Suite struct StoreWebhookTests {
    /// Every `Store` keeps webhooks; the tests use only that part.
    static func webhookStore(_ store: any Store) -> any WebhookStore { store }

    @Test("subscriptions: the limit, unknown channels refused, listed without secrets, deleted with their queue",
          arguments: StoreKind.allCases)
    func subscriptions(kind: StoreKind) async throws {
        try await kind.with { store in
            let hooks = Self.webhookStore(store)
            _ = try await store.createChannel(name: "show")
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            let all = try await hooks.createWebhook(url: "https://a.example/hook", events: ["stream.started", "stream.ended"],
                                                    channel: nil, secret: "whsec_a", limit: 2, now: now)
            let one = try await hooks.createWebhook(url: "https://b.example/hook", events: ["stream.started"],
                                                    channel: "show", secret: "whsec_b", limit: 2, now: now.addingTimeInterval(1))
            await #expect(throws: StoreError.webhookLimit(2)) {
                try await hooks.createWebhook(url: "https://c.example/", events: ["x"], channel: nil, secret: "s", limit: 2, now: now)
            }
            await #expect(throws: StoreError.channelNotFound("missing")) {
                try await hooks.createWebhook(url: "https://c.example/", events: ["x"], channel: "missing", secret: "s", limit: 5, now: now)
            }
            #expect(try await hooks.webhooks() == [all, one])
            #expect(try await hooks.webhook(id: one.id) == one)
            #expect(all.events == ["stream.started", "stream.ended"] && one.channel == "show")

            let queued = try await hooks.enqueueWebhookDelivery(webhookID: one.id, event: "ping", body: Data("{}".utf8), now: now)
            #expect(queued != nil)
            #expect(try await hooks.enqueueWebhookDelivery(webhookID: "wh_missing", event: "ping", body: Data(), now: now) == nil)
            #expect(try await hooks.deleteWebhook(id: one.id))
            #expect(try await !hooks.deleteWebhook(id: one.id), "a second delete finds nothing")
            #expect(try await hooks.webhookDeliveries(webhookID: one.id, limit: 10).isEmpty, "its queue went with it")
            #expect(try await hooks.webhooks() == [all])
        }
    }

    @Test("the queue: fan-out by event and channel, the pending cap, claims with a lease, attempts, the log, pruning, a reopen",
          arguments: StoreKind.allCases)
    func queue(kind: StoreKind) async throws {
        try await kind.withDatabase { database in
            let store = try await database.open()
            let hooks = Self.webhookStore(store)
            _ = try await store.createChannel(name: "show")
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            let every = try await hooks.createWebhook(url: "https://a.example/", events: ["stream.started", "stream.ended"],
                                                      channel: nil, secret: "whsec_a", limit: 10, now: start)
            let show = try await hooks.createWebhook(url: "https://b.example/", events: ["stream.started"],
                                                     channel: "show", secret: "whsec_b", limit: 10, now: start)
            #expect(try await hooks.nextWebhookDeliveryDue() == nil)

            let started = Data(#"{"type":"stream.started","channel":"show"}"#.utf8)
            let queued = try await hooks.enqueueWebhookEvents([
                WebhookEventRow(event: "stream.started", channel: "show", body: started),     // both
                WebhookEventRow(event: "stream.started", channel: "other", body: Data("o".utf8)), // `every` only
                WebhookEventRow(event: "stream.ended", channel: "show", body: Data("e".utf8)),  // `every` only
                WebhookEventRow(event: "recording.ready", channel: "show", body: Data("r".utf8)), // nobody
            ], maxPending: 3, now: start)
            #expect(queued == 4)
            #expect(try await hooks.nextWebhookDeliveryDue() == start)
            // `every` has 3 pending: the cap of 3 gives it no more; `show` (1 pending) still gets one.
            #expect(try await hooks.enqueueWebhookEvents([WebhookEventRow(event: "stream.started", channel: "show", body: started)],
                                                         maxPending: 3, now: start.addingTimeInterval(1)) == 1)

            // A claim takes the due ones, oldest first, with the secret to sign them; claimed again only after the lease.
            let claimed = try await hooks.claimDueWebhookDeliveries(now: start.addingTimeInterval(1), limit: 3, lease: 30)
            #expect(claimed.count == 3)
            #expect(claimed.map(\.id) == claimed.map(\.id).sorted(), "oldest first")
            let first = try #require(claimed.first { $0.webhookID == show.id })
            #expect(first.url == "https://b.example/" && first.secret == "whsec_b" && first.body == started && first.attempts == 0)
            let rest = try await hooks.claimDueWebhookDeliveries(now: start.addingTimeInterval(2), limit: 10, lease: 30)
            #expect(rest.count == 2 && Set(rest.map(\.id)).isDisjoint(with: claimed.map(\.id)), "claimed rows are skipped")
            #expect(try await hooks.claimDueWebhookDeliveries(now: start.addingTimeInterval(3), limit: 10, lease: 30).isEmpty)

            try await hooks.recordWebhookAttempt(id: first.id, outcome: .delivered(status: 204), now: start.addingTimeInterval(4))
            let retried = try #require(claimed.first { $0.webhookID == every.id })
            try await hooks.recordWebhookAttempt(id: retried.id, outcome: .retry(at: start.addingTimeInterval(60), status: 503, error: "status 503"),
                                                 now: start.addingTimeInterval(4))
            let dead = try #require(rest.first)
            try await hooks.recordWebhookAttempt(id: dead.id, outcome: .failed(status: nil, error: "connection refused"),
                                                 now: start.addingTimeInterval(4))
            await store.close()

            // After a restart the queue and the log are as they were.
            let reopened = try await database.open()
            let again = Self.webhookStore(reopened)
            let log = try await again.webhookDeliveries(webhookID: show.id, limit: 10)
            #expect(log.count == 2 && log.first?.id ?? 0 > log.last?.id ?? 0, "newest first")
            let delivered = try #require(log.first { $0.id == first.id })
            #expect(delivered.state == .delivered && delivered.attempts == 1 && delivered.lastStatus == 204 && delivered.nextAttemptAt == nil)
            let everyLog = try await again.webhookDeliveries(webhookID: every.id, limit: 10)
            let retry = try #require(everyLog.first { $0.id == retried.id })
            #expect(retry.state == .pending && retry.lastStatus == 503 && retry.lastError == "status 503"
                    && retry.nextAttemptAt == start.addingTimeInterval(60))
            #expect(try await again.webhookDeliveries(webhookID: every.id, limit: 1).count == 1, "the limit holds")
            let failed = try #require((log + everyLog).first { $0.id == dead.id })
            #expect(failed.state == .failed && failed.lastError == "connection refused" && failed.lastStatus == nil)
            // The retry is due at +60 s; the others' leases end at +31 and +32 s.
            #expect(try await again.nextWebhookDeliveryDue() == start.addingTimeInterval(31))
            let afterLease = try await again.claimDueWebhookDeliveries(now: start.addingTimeInterval(61), limit: 10, lease: 30)
            #expect(afterLease.contains { $0.id == retried.id && $0.attempts == 1 }, "the retry comes back when due")

            // Pruning forgets only finished deliveries older than the cutoff.
            #expect(try await again.pruneWebhookDeliveries(before: start.addingTimeInterval(3600)) == 2)
            #expect(try await again.webhookDeliveries(webhookID: show.id, limit: 10).allSatisfy { $0.state == .pending })
            await reopened.close()
        }
    }
}
