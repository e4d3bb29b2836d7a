import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Storage

/// `/api/v1/webhooks`: subscribe a URL to events, list, delete, read a webhook's delivery log, send a test ping.
/// Webhooks are server-wide (an optional `channel` limits one to that channel's events), so every call needs the
/// admin API key, through the same middleware as the channel routes. The secret is returned once, by the create.
struct WebhookAPI {
    let webhooks: WebhookDispatcher
    let store: any Store

    /// The largest create body read.
    static let maxBodyBytes = 16 * 1024
    /// Deliveries one log request returns at most.
    static let maxLogEntries = 200

    struct CreateRequest: Decodable {
        var url: String
        var events: [String]
        var channel: String?
        var secret: String?
    }

    struct WebhookBody: Encodable {
        var id: String
        var url: String
        var events: [String]
        var channel: String?
        var createdAt: Date
        /// Only in the answer to the create.
        var secret: String?

        init(_ webhook: Webhook, secret: String? = nil) {
            id = webhook.id
            url = webhook.url
            events = webhook.events
            channel = webhook.channel
            createdAt = webhook.createdAt
            self.secret = secret
        }
    }

    struct DeliveryBody: Encodable {
        var id: Int64
        var event: String
        var state: String
        var attempts: Int
        var lastStatus: Int?
        var lastError: String?
        var createdAt: Date
        var lastAttemptAt: Date?
        var nextAttemptAt: Date?
    }

    struct PingBody: Encodable { var deliveryID: Int64 }

    func register(on router: Router<LiveloopRequestContext>) {
        let api = router.group("api/v1/webhooks").add(middleware: AdminKeyMiddleware(store: store))
        api.get { _, _ in
            try jsonResponse(.ok, try await store.webhooks().map { WebhookBody($0) })
        }
        api.post { request, _ in
            let body = try await request.body.collect(upTo: Self.maxBodyBytes)
            let create = try JSONDecoder().decode(CreateRequest.self, from: Data(body.readableBytesView))
            let events = try Self.validEvents(create.events)
            let policy = WebhookURLPolicy(allowPrivateAddresses: webhooks.configuration.allowPrivateAddresses)
            do throws(WebhookURLPolicy.Refusal) { try policy.check(create.url) } catch { throw APIError.badRequest(error.description) }
            if let channel = create.channel, !Channel.isValidName(channel) { throw APIError.badRequest(StoreError.invalidChannelName(channel).description) }
            let secret = create.secret ?? Secrets.generate(prefix: "whsec_")
            guard (16...256).contains(secret.utf8.count), secret.unicodeScalars.allSatisfy({ (0x21...0x7e).contains($0.value) }) else {
                throw APIError.badRequest("secret must be 16–256 printable ASCII characters without spaces (or left out: the server makes one)")
            }
            do {
                let webhook = try await store.createWebhook(url: create.url, events: events, channel: create.channel, secret: secret,
                                                            limit: webhooks.configuration.maxWebhooks)
                await webhooks.refreshSubscriptions()
                return try jsonResponse(.created, WebhookBody(webhook, secret: secret))
            } catch StoreError.channelNotFound(let channel) {
                throw APIError.badRequest(StoreError.channelNotFound(channel).description)
            } catch let error as StoreError {
                throw ChannelAPI.apiError(error)
            }
        }
        api.get(":id") { _, context in
            try jsonResponse(.ok, WebhookBody(try await webhook(context)))
        }
        api.delete(":id") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard try await store.deleteWebhook(id: id) else { throw Self.notFound(id) }
            await webhooks.refreshSubscriptions()
            return Response(status: .noContent)
        }
        api.get(":id/deliveries") { request, context in
            let webhook = try await webhook(context)
            var limit = 50
            if let text = request.uri.queryParameters["limit"] {
                guard let value = Int(text), (1...Self.maxLogEntries).contains(value) else {
                    throw APIError.badRequest("limit must be 1–\(Self.maxLogEntries)")
                }
                limit = value
            }
            let log = try await store.webhookDeliveries(webhookID: webhook.id, limit: limit)
            return try jsonResponse(.ok, log.map {
                DeliveryBody(id: $0.id, event: $0.event, state: $0.state.rawValue, attempts: $0.attempts, lastStatus: $0.lastStatus,
                             lastError: $0.lastError, createdAt: $0.createdAt, lastAttemptAt: $0.lastAttemptAt, nextAttemptAt: $0.nextAttemptAt)
            })
        }
        api.post(":id/ping") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard let delivery = try await webhooks.ping(webhookID: id) else { throw Self.notFound(id) }
            return try jsonResponse(.accepted, PingBody(deliveryID: delivery))
        }
    }

    private func webhook(_ context: LiveloopRequestContext) async throws -> Webhook {
        let id = context.parameters.get("id") ?? ""
        guard let webhook = try await store.webhook(id: id) else { throw Self.notFound(id) }
        return webhook
    }

    static func notFound(_ id: String) -> APIError {
        .notFound("no webhook \"\(id.prefix(64))\"")
    }

    /// The subscribed types, known and without repeats, in the order given.
    static func validEvents(_ events: [String]) throws -> [String] {
        let known = Set(WebhookEventType.subscribable.map(\.rawValue))
        guard !events.isEmpty, events.count <= known.count * 2 else {
            throw APIError.badRequest("events must name 1 to \(known.count) of: \(WebhookEventType.subscribable.map(\.rawValue).joined(separator: ", "))")
        }
        var seen: [String] = []
        for event in events {
            guard known.contains(event) else {
                throw APIError.badRequest("unknown event \"\(event.prefix(64))\"; known: \(WebhookEventType.subscribable.map(\.rawValue).joined(separator: ", "))")
            }
            if !seen.contains(event) { seen.append(event) }
        }
        return seen
    }
}
