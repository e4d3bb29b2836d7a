import Interaction
import NIOCore
import NIOWebSocket
import Synchronization

/// One WebSocket client as the room sees it: who it is and its bounded outbound queue.
///
/// Frames (the same bytes for every recipient of a broadcast) are written straight into the connection's channel on
/// its own event loop: one hop per frame, no task to wake. The queue is the channel's: while the socket is not
/// writable (more than the channel's high-water mark waiting) a client may fall `outboxLimit` frames further behind;
/// past that it is too slow to keep up, is dropped from fan-out and closed, never allowed to grow the server's memory.
///
/// In a cluster the room's node also holds one for each client of another node (`remote`): its frames go down that
/// node's room link, which holds them for the client's playhead and writes them to its socket.
public final class ClientConnection: RoomPeer {
    public let id: Int
    public let identity: Identity
    private let transport: Transport
    /// Finished when the room is done with this client: its gateway then closes the socket.
    private let ended: AsyncStream<Void>.Continuation?

    enum Transport: Sendable {
        case socket(any NIOCore.Channel)
        /// A client of another node: the link to that node, and that node's number for the client.
        case link(RoomLink, Int)
    }
    /// Frames written while the channel was not writable, since it last was.
    private let behind = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)
    /// The player's display latency (ms behind ingest) from its last `sync` report, clamped to the room's bound.
    private let latencyMs = Atomic<Int>(0)
    /// The player's best ping round trip (ms) from its last `sync` report.
    private let rttMs = Atomic<Int>(0)
    /// Whether a frame was refused because the client fell too far behind (not because it had already gone).
    private let overflowed = Atomic<Bool>(false)

    /// Lead bounds: a cue-bearing message leaves this long before the player's playhead reaches the cue — enough for
    /// one network trip plus jitter, and no more, since whatever arrives early is what a dishonest client could use.
    static let minimumLead = 150
    static let maximumLead = 600

    /// Frames queued for one client before it counts as too slow.
    public static let outboxLimit = 1024

    init(id: Int, identity: Identity, channel: any NIOCore.Channel, ended: AsyncStream<Void>.Continuation) {
        self.id = id
        self.identity = identity
        transport = .socket(channel)
        self.ended = ended
    }

    /// A client of another node, `number` there, reached through `link`.
    init(id: Int, identity: Identity, remote number: Int, link: RoomLink) {
        self.id = id
        self.identity = identity
        transport = .link(link, number)
        ended = nil
    }

    public var isRemote: Bool {
        if case .link = transport { true } else { false }
    }

    /// The other node's number for a remote client.
    var remoteNumber: Int? {
        if case let .link(_, number) = transport { number } else { nil }
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
    public var displayLatencyMilliseconds: Int { latencyMs.load(ordering: .relaxed) }

    /// Half the reported round trip, at most `maximumTransitCredit` ms: how much earlier than its arrival an answer is
    /// taken to have been given.
    public var transitCreditMilliseconds: Int { min(rttMs.load(ordering: .relaxed) / 2, Self.maximumTransitCredit) }
    static let maximumTransitCredit = 300

    /// How long before its playhead reaches a cue a message should leave for this client.
    public var leadMilliseconds: Int {
        min(max(rttMs.load(ordering: .relaxed) / 2 + Self.minimumLead, Self.minimumLead), Self.maximumLead)
    }

    /// Queues a frame; false when the client is too slow or gone.
    @discardableResult
    public func send(_ frame: ByteBuffer) -> Bool {
        send(frame, cue: nil)
    }

    @discardableResult
    public func send(_ frame: ByteBuffer, cue: CueStamp?) -> Bool {
        guard !closed.load(ordering: .relaxed) else { return false }
        let channel: any NIOCore.Channel
        switch transport {
        case let .link(link, number):
            return link.send(.direct(connection: number, cue: cue, frame: frame))
        case let .socket(socket):
            channel = socket
        }
        if channel.isWritable {
            if behind.load(ordering: .relaxed) != 0 { behind.store(0, ordering: .relaxed) }
        } else if behind.wrappingAdd(1, ordering: .relaxed).newValue > Self.outboxLimit {
            overflowed.store(true, ordering: .relaxed)
            return false
        }
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: frame), promise: nil)
        return true
    }

    /// Ends the connection's part in the room; the gateway then closes the socket after what is already written.
    public func close() {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        if case let .link(link, number) = transport { link.send(.close(connection: number, dropped: false)) }
        ended?.finish()
    }

    /// Ends a client too slow to keep up: its channel is closed at once, so what it had queued is discarded, not sent.
    public func drop() {
        closed.store(true, ordering: .relaxed)
        switch transport {
        case let .socket(channel): channel.close(promise: nil)
        case let .link(link, number): link.send(.close(connection: number, dropped: true))
        }
        ended?.finish()
    }

    /// Whether the client ever fell too far behind: it was too slow, rather than gone.
    public var wasTooSlow: Bool { overflowed.load(ordering: .relaxed) }

    public static func frame(_ envelope: ServerEnvelope) -> ByteBuffer? {
        (try? envelope.jsonData()).map { ByteBuffer(bytes: $0) }
    }

    public static func ack(id: String) -> ByteBuffer {
        ByteBuffer(bytes: FastJSON.ack(id: id))
    }
}
