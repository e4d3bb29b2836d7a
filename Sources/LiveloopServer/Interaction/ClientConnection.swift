import Interaction
import NIOCore
import Synchronization

/// One WebSocket client as the room sees it: who it is and its bounded outbound queue.
///
/// The queue holds encoded frames (the same bytes for every recipient of a broadcast). When it is full the client is
/// too slow to keep up: it is dropped from fan-out and closed, never allowed to grow the server's memory.
public final class ClientConnection: Sendable {
    public let id: Int
    public let identity: Identity
    private let outbox: AsyncStream<ByteBuffer>.Continuation
    /// The player's display latency (ms behind ingest) from its last `sync` report, clamped to the room's bound.
    private let latencyMs = Atomic<Int>(0)
    /// The player's best ping round trip (ms) from its last `sync` report.
    private let rttMs = Atomic<Int>(0)
    private let dropped = Atomic<Bool>(false)
    /// Whether a frame was refused because the queue was full (not because the client had already gone).
    private let overflowed = Atomic<Bool>(false)

    /// Lead bounds: a cue-bearing message leaves this long before the player's playhead reaches the cue — enough for
    /// one network trip plus jitter, and no more, since whatever arrives early is what a dishonest client could use.
    static let minimumLead = 150
    static let maximumLead = 600

    /// Frames queued for one client before it counts as too slow.
    public static let outboxLimit = 1024

    init(id: Int, identity: Identity, outbox: AsyncStream<ByteBuffer>.Continuation) {
        self.id = id
        self.identity = identity
        self.outbox = outbox
    }

    /// Takes a player's `sync` report; the latency is clamped to `[0, bound]`.
    func update(_ report: ClientMessage.SyncReport, bound: Duration) {
        if let latency = report.latencyMs {
            let limit = Int(bound.wholeMilliseconds)
            latencyMs.store(min(max(latency, 0), limit), ordering: .relaxed)
        }
        if let rtt = report.rttMs { rttMs.store(min(max(rtt, 0), 10_000), ordering: .relaxed) }
    }

    /// How far behind ingest this viewer's playhead is, as far as the server accepts it (0 until reported).
    var displayLatencyMilliseconds: Int { latencyMs.load(ordering: .relaxed) }

    /// Half the reported round trip, at most `maximumTransitCredit` ms: how much earlier than its arrival an answer is
    /// taken to have been given.
    var transitCreditMilliseconds: Int { min(rttMs.load(ordering: .relaxed) / 2, Self.maximumTransitCredit) }
    static let maximumTransitCredit = 300

    /// How long before its playhead reaches a cue a message should leave for this client.
    var leadMilliseconds: Int {
        min(max(rttMs.load(ordering: .relaxed) / 2 + Self.minimumLead, Self.minimumLead), Self.maximumLead)
    }

    /// Queues a frame; false when the client is too slow or gone.
    @discardableResult
    func send(_ frame: ByteBuffer) -> Bool {
        switch outbox.yield(frame) {
        case .enqueued: return true
        case .dropped:
            overflowed.store(true, ordering: .relaxed)
            return false
        case .terminated: return false
        @unknown default: return false
        }
    }

    /// Ends the outbound queue; the writer closes the socket once it has sent what is queued.
    func close() {
        outbox.finish()
    }

    /// Ends the outbound queue of a client too slow to keep up: the writer sends nothing more of what is queued and
    /// closes the socket, so the queue's frames are freed with it.
    func drop() {
        dropped.store(true, ordering: .relaxed)
        outbox.finish()
    }

    /// Whether the queue ever overflowed: the client was too slow, rather than gone.
    var wasTooSlow: Bool { overflowed.load(ordering: .relaxed) }

    /// Whether `drop()` was called: what is still queued is to be discarded, not sent.
    var isDropped: Bool { dropped.load(ordering: .relaxed) }

    static func makeOutbox() -> (AsyncStream<ByteBuffer>, AsyncStream<ByteBuffer>.Continuation) {
        AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingOldest(outboxLimit))
    }
}
