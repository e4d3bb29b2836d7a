import Foundation
import Interaction
import LiveMedia
import Logging
import ServiceLifecycle
import Storage
import Synchronization

/// Webhooks end to end: events in (`emit`, from the broadcasts, the rooms and the recorder), a durable queue (the
/// `webhook_deliveries` table), and a service that sends what is due, signed, retrying failures with backoff.
///
/// `emit` never blocks and never touches the network or the disk: it drops events no webhook subscribes to and puts
/// the rest in a bounded buffer that a writer task commits to the queue in batches; only what is in the queue is ever
/// sent, so a delivery that was attempted survives a restart. The sender claims due rows with a lease (a crash mid-
/// send delays that delivery, never loses it) and keeps at most `maxConcurrentDeliveries` attempts in flight.
public final class WebhookDispatcher: Service, Sendable {
    let store: any WebhookStore
    let configuration: WebhookConfiguration
    let http: WebhookHTTP
    private let logger: Logger
    private let unwritten = Mutex<[WebhookEventRow]>([])
    private let dropped = Atomic<Int>(0)
    private let writerWake = WakeSignal()
    private let senderWake = WakeSignal()
    private let stopping = Atomic<Bool>(false)
    private let inFlight = Atomic<Int>(0)
    /// The event types some webhook subscribes to, so unwatched events cost nothing (refreshed on every change).
    private let subscribed = Mutex<Set<String>>([])
    /// When each live broadcast started (for `stream.ended`'s duration).
    private let liveSince = Mutex<[String: Date]>([:])

    init(store: any WebhookStore, configuration: WebhookConfiguration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        http = WebhookHTTP(policy: WebhookURLPolicy(allowPrivateAddresses: configuration.allowPrivateAddresses),
                           connectTimeout: min(configuration.requestTimeout, .seconds(5)))
    }

    // MARK: Events in

    /// Queues an event for its subscribers. Never blocks; past `maxUnwrittenEvents` waiting for the writer, it drops.
    public func emit(_ event: WebhookEvent) {
        guard subscribed.withLock({ $0.contains(event.type.rawValue) }) else { return }
        let accepted = unwritten.withLock { buffer -> Bool in
            guard buffer.count < configuration.maxUnwrittenEvents else { return false }
            buffer.append(.init(event: event.type.rawValue, channel: event.channel, body: event.body))
            return true
        }
        if accepted {
            writerWake.signal()
        } else if dropped.wrappingAdd(1, ordering: .relaxed).newValue % 1000 == 1 {
            logger.warning("webhook events dropped: the queue writer is behind", metadata: ["dropped": "\(dropped.load(ordering: .relaxed))"])
        }
    }

    /// `stream.started` and `stream.ended`, from the broadcast registry.
    func broadcast(_ lifecycle: BroadcastRegistry.Lifecycle) {
        switch lifecycle {
        case let .started(channel, at):
            liveSince.withLock { $0[channel] = at }
            emit(WebhookEvent(.streamStarted, channel: channel, data: WebhookPayload.StreamStarted(startedAt: at), at: at))
        case let .ended(channel, at):
            let startedAt = liveSince.withLock { $0.removeValue(forKey: channel) } ?? at
            emit(WebhookEvent(.streamEnded, channel: channel, data: WebhookPayload.StreamEnded(
                startedAt: startedAt, endedAt: at, durationSeconds: (at.timeIntervalSince(startedAt) * 1000).rounded() / 1000), at: at))
        }
    }

    /// For the recorder: a recording of `channel` is complete and playable.
    public func recordingReady(channel: String, _ recording: WebhookPayload.RecordingReady) {
        emit(WebhookEvent(.recordingReady, channel: channel, data: recording))
    }

    /// The webhook events of a committed room update (poll closed, quiz ended, gift sent).
    func roomCommitted(channel: String, update: RoomUpdate) {
        guard !subscribed.withLock({ $0.isEmpty }) else { return }
        for event in WebhookEvent.events(in: update, channel: channel) { emit(event) }
    }

    /// Queues a `webhook.ping` for one webhook; nil when there is no such webhook.
    func ping(webhookID: String) async throws -> Int64? {
        let event = WebhookEvent(.ping, channel: nil, data: WebhookPayload.Ping(webhookID: webhookID))
        let id = try await store.enqueueWebhookDelivery(webhookID: webhookID, event: event.type.rawValue, body: event.body)
        if id != nil { senderWake.signal() }
        return id
    }

    /// Re-reads which event types are subscribed to (after a webhook is created or deleted).
    func refreshSubscriptions() async {
        guard let hooks = try? await store.webhooks() else { return }
        let types = Set(hooks.flatMap(\.events))
        subscribed.withLock { $0 = types }
    }

    /// The admission hook of `--publish-hook`, if set; its timeout is at most the RTMP setup timeout.
    func publishHook(setupTimeout: Duration) -> PublishHook? {
        guard let url = configuration.publishHookURL else { return nil }
        return PublishHook(url: url, secret: configuration.publishHookSecret ?? "", timeout: min(configuration.publishHookTimeout, setupTimeout),
                           http: http, logger: logger)
    }

    // MARK: The service

    public func run() async throws {
        await refreshSubscriptions()
        await withDiscardingTaskGroup { group in
            group.addTask { await self.writeLoop() }
            group.addTask { await self.sendLoop() }
            try? await gracefulShutdown()
            stopping.store(true, ordering: .relaxed)
            writerWake.signal()
            senderWake.signal()
        }
        await http.shutdown()
    }

    /// Commits buffered events to the queue in batches; on shutdown, whatever is buffered is committed before it ends.
    private func writeLoop() async {
        while true {
            let batch = unwritten.withLock { buffer in
                defer { buffer.removeAll(keepingCapacity: true) }
                return buffer
            }
            if !batch.isEmpty {
                do {
                    if try await store.enqueueWebhookEvents(batch, maxPending: configuration.maxPendingPerWebhook) > 0 { senderWake.signal() }
                } catch {
                    logger.error("could not queue webhook events", metadata: ["events": "\(batch.count)", "error": "\(error)"])
                }
                continue
            }
            if stopping.load(ordering: .relaxed) { return }
            await writerWake.wait(timeout: .seconds(60))
        }
    }

    private func sendLoop() async {
        let lease = configuration.requestTimeout.asSeconds + 5
        var lastPrune = Date.distantPast
        await withDiscardingTaskGroup { group in
            while !stopping.load(ordering: .relaxed) {
                let now = Date()
                if now.timeIntervalSince(lastPrune) > 3600 {
                    lastPrune = now
                    _ = try? await store.pruneWebhookDeliveries(before: now.addingTimeInterval(-configuration.logRetention.asSeconds))
                }
                let free = configuration.maxConcurrentDeliveries - inFlight.load(ordering: .relaxed)
                var due: [DueWebhookDelivery] = []
                do {
                    due = try await store.claimDueWebhookDeliveries(now: now, limit: free, lease: lease)
                } catch {
                    logger.error("could not read the webhook queue", metadata: ["error": "\(error)"])
                }
                for delivery in due {
                    inFlight.wrappingAdd(1, ordering: .relaxed)
                    group.addTask {
                        await self.attempt(delivery)
                        self.inFlight.wrappingSubtract(1, ordering: .relaxed)
                        self.senderWake.signal()
                    }
                }
                // Sleep until the next delivery is due, a new one is queued, or an attempt finishes (a free slot).
                var timeout = Duration.seconds(30)
                if due.count < free, let next = try? await store.nextWebhookDeliveryDue() {
                    timeout = .milliseconds(Int64(max(0.01, min(30, next.timeIntervalSinceNow)) * 1000))
                }
                if !stopping.load(ordering: .relaxed) { await senderWake.wait(timeout: timeout) }
            }
            group.cancelAll()
        }
    }

    /// One attempt at one delivery, and its outcome recorded (not when cut short by shutdown: its lease runs out and
    /// the next start sends it).
    private func attempt(_ delivery: DueWebhookDelivery) async {
        let outcome: WebhookAttemptOutcome
        let attempts = delivery.attempts + 1
        do {
            let answer = try await http.post(url: delivery.url, body: delivery.body, secret: delivery.secret,
                                             timeout: configuration.requestTimeout)
            if (200..<300).contains(answer.status) {
                outcome = .delivered(status: answer.status)
            } else {
                outcome = failure(attempts: attempts, status: answer.status, error: "the receiver answered HTTP \(answer.status)")
            }
        } catch {
            if Task.isCancelled { return }
            if case .refused = error {
                outcome = .failed(status: nil, error: error.description)
            } else {
                outcome = failure(attempts: attempts, status: nil, error: error.description)
            }
        }
        if Task.isCancelled { return }
        let metadata: Logger.Metadata = ["webhook": "\(delivery.webhookID)", "event": "\(delivery.event)", "attempt": "\(attempts)"]
        switch outcome {
        case .delivered: logger.debug("webhook delivered", metadata: metadata)
        case let .retry(at, status, error):
            logger.info("webhook delivery failed; will retry", metadata: metadata.merging([
                "status": "\(status.map(String.init) ?? "-")", "error": "\(error)", "retryIn": "\(Int(at.timeIntervalSinceNow.rounded()))s",
            ]) { $1 })
        case let .failed(status, error):
            logger.warning("webhook delivery failed for good", metadata: metadata.merging([
                "status": "\(status.map(String.init) ?? "-")", "error": "\(error)",
            ]) { $1 })
        }
        do {
            try await store.recordWebhookAttempt(id: delivery.id, outcome: outcome)
        } catch {
            logger.error("could not record a webhook attempt", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
    }

    private func failure(attempts: Int, status: Int?, error: String) -> WebhookAttemptOutcome {
        guard let delay = configuration.retry.delay(afterFailedAttempts: attempts, random: Double.random(in: 0...1)) else {
            return .failed(status: status, error: error)
        }
        return .retry(at: Date().addingTimeInterval(delay.asSeconds), status: status, error: error)
    }
}
