import Interaction
import Prometheus
import Synchronization

/// The interaction layer's Prometheus metrics (docs/operations.md lists them).
///
/// Everything on the vote path is a relaxed atomic add: a message is counted with one add on its type's counter
/// (created up front, so the lookup takes no lock), votes and answers with one add per committed batch, the commit
/// latency once per batch. Connections per room are read from the loaded rooms when `/metrics` is scraped; that gauge
/// has a `channel` label, so its series are bounded by the number of channels (created by an admin, never by a
/// client), and a room that is unloaded loses its series at the next scrape.
public final class InteractionMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    /// `liveloop_interaction_messages_received_total{type}`: client messages that reached a room, by protocol type.
    private let receivedCounters: [ClientMessage.Kind: Counter]
    /// `liveloop_interaction_messages_refused_total{reason}`: frames refused before they reached a room.
    let refusedMalformed: Counter
    let refusedRateLimited: Counter
    /// `liveloop_interaction_votes_total`: poll votes committed and acknowledged.
    let votes: Counter
    /// `liveloop_interaction_answers_total`: quiz answers committed and acknowledged.
    let answers: Counter
    /// `liveloop_interaction_commit_seconds`: from a batch of records queued to the group-commit log to it being durable.
    let commitLatency: DurationHistogram
    /// `liveloop_interaction_commit_failures_total`: batches the store could not commit (their requests were refused).
    let commitFailures: Counter
    /// `liveloop_interaction_slow_consumers_dropped_total`: clients dropped from fan-out because their queue was full.
    let slowConsumersDropped: Counter
    let rooms: Gauge
    private let connectionGauges = Mutex<[String: Gauge]>([:])

    /// Commit latency buckets: 0.5 ms (a batch on an idle disk) to 1 s (a disk in trouble).
    static let commitBuckets: [Duration] = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000].map { .microseconds(Int64($0 * 1000)) }

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        let metric = ServerMetrics.metric
        let receivedName = metric("liveloop_interaction_messages_received_total", "Client messages that reached a room, by type")
        var received: [ClientMessage.Kind: Counter] = [:]
        for kind in ClientMessage.Kind.allCases {
            received[kind] = registry.makeCounter(descriptor: receivedName, labels: [("type", kind.rawValue)])
        }
        self.receivedCounters = received
        let refused = metric("liveloop_interaction_messages_refused_total", "Interaction frames refused before reaching a room, by reason")
        refusedMalformed = registry.makeCounter(descriptor: refused, labels: [("reason", "malformed")])
        refusedRateLimited = registry.makeCounter(descriptor: refused, labels: [("reason", "rate_limited")])
        votes = registry.makeCounter(descriptor: metric("liveloop_interaction_votes_total", "Poll votes committed and acknowledged"))
        answers = registry.makeCounter(descriptor: metric("liveloop_interaction_answers_total", "Quiz answers committed and acknowledged"))
        commitLatency = registry.makeDurationHistogram(
            descriptor: metric("liveloop_interaction_commit_seconds", "Time from records queued to the group-commit log to durable"),
            buckets: Self.commitBuckets
        )
        commitFailures = registry.makeCounter(descriptor: metric("liveloop_interaction_commit_failures_total", "Record batches the store could not commit"))
        slowConsumersDropped = registry.makeCounter(descriptor: metric(
            "liveloop_interaction_slow_consumers_dropped_total", "Interaction clients dropped from fan-out because their queue was full"))
        rooms = registry.makeGauge(descriptor: metric("liveloop_interaction_rooms", "Rooms loaded in memory"))
    }

    /// Counts one client message of `kind` that reached a room.
    func received(_ kind: ClientMessage.Kind) {
        receivedCounters[kind]?.increment()
    }

    enum Refusal { case malformed, rateLimited }

    /// Counts one frame refused before it reached a room.
    func refused(_ reason: Refusal) {
        switch reason {
        case .malformed: refusedMalformed.increment()
        case .rateLimited: refusedRateLimited.increment()
        }
    }

    /// Counts the votes and quiz answers of one committed batch.
    func accepted(votes: Int, answers: Int) {
        if votes > 0 { self.votes.increment(by: Int64(votes)) }
        if answers > 0 { self.answers.increment(by: Int64(answers)) }
    }

    /// Records one group-commit batch: how long it took to become durable, and whether it failed.
    func committed(after latency: Duration, failed: Bool) {
        commitLatency.record(latency)
        if failed { commitFailures.increment() }
    }

    /// Counts a client dropped from fan-out as too slow.
    func droppedSlowConsumer() {
        slowConsumersDropped.increment()
    }

    /// Sets `liveloop_interaction_connections{channel}` from the loaded rooms' connection counts; rooms no longer
    /// loaded lose their series.
    func updateConnections(_ counts: [String: Int]) {
        rooms.set(Double(counts.count))
        connectionGauges.withLock { gauges in
            for (channel, gauge) in gauges where counts[channel] == nil {
                registry.unregisterGauge(gauge)
                gauges[channel] = nil
            }
            let descriptor = ServerMetrics.metric("liveloop_interaction_connections", "Open interaction WebSockets per room")
            for (channel, count) in counts {
                let gauge = gauges[channel] ?? registry.makeGauge(descriptor: descriptor, labels: [("channel", channel)])
                gauges[channel] = gauge
                gauge.set(Double(count))
            }
        }
    }
}
