/// Webhook and publish-hook settings (`liveloop serve --webhook-…`, `--publish-hook…`; docs/webhooks.md).
public struct WebhookConfiguration: Sendable {
    /// Send to loopback and private-network addresses too (off: such URLs are refused; see `WebhookURLPolicy`).
    public var allowPrivateAddresses = false
    public var retry = WebhookRetryPolicy()
    /// The whole exchange of one attempt: connect, send, status and the (capped) answer.
    public var requestTimeout: Duration = .seconds(10)
    /// Attempts in flight at once, across all webhooks.
    public var maxConcurrentDeliveries = 8
    /// Webhooks the server keeps.
    public var maxWebhooks = 100
    /// Undelivered events one webhook may have queued; past it its new events are not queued (and a log line says so).
    public var maxPendingPerWebhook = 10_000
    /// Events waiting to be written to the queue; past it new ones are dropped (and counted in a log line).
    public var maxUnwrittenEvents = 10_000
    /// How long delivered and failed deliveries stay in the log.
    public var logRetention: Duration = .seconds(7 * 24 * 3600)

    /// Asked before every publish when set: `POST {channel, protocol, remoteAddress}`, `{"allow": true}` lets it start.
    public var publishHookURL: String?
    /// Signs the publish hook's requests (the same `Liveloop-Signature` as webhooks).
    public var publishHookSecret: String?
    /// How long the publish hook has to answer; no answer in time refuses the publish.
    public var publishHookTimeout: Duration = .seconds(5)

    public init() {}
}
