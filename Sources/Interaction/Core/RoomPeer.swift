/// One connected client as a room's core sees it: who it is, what its player reports about its playhead, and a way to
/// hand it a frame. The server's WebSocket connection is one; the core's tests use a recording peer.
///
/// `Frame` is whatever the transport writes (the server's is a `ByteBuffer`): the core encodes each broadcast once
/// (`frame(_:)`) and hands the same value to every recipient.
public protocol RoomPeer: AnyObject, Sendable {
    associatedtype Frame: Sendable

    var id: Int { get }
    var identity: Identity { get }
    /// How far behind ingest this client's playhead is (ms), as far as the server believes it.
    var displayLatencyMilliseconds: Int { get }
    /// How much earlier than its arrival an answer of this client is taken to have been given (ms).
    var transitCreditMilliseconds: Int { get }
    /// How long before its playhead reaches a cue a cue-bearing frame should leave for this client (ms).
    var leadMilliseconds: Int { get }
    /// Whether a send was ever refused because the client fell too far behind (rather than because it had gone).
    var wasTooSlow: Bool { get }

    /// Whether the client is connected to another node of the cluster: it gets broadcasts through that node's link
    /// (`RoomDelivery.relay`), once per node, not one by one, and frames for it are not held here (its node holds
    /// them for its playhead).
    var isRemote: Bool { get }

    /// Queues a frame; false when the client is too slow or gone.
    @discardableResult func send(_ frame: Frame) -> Bool
    /// Queues a frame that carries `cue`, for a remote client (its node holds it); a local client's is `send`.
    @discardableResult func send(_ frame: Frame, cue: CueStamp?) -> Bool
    /// Ends the client's part in the room after what is already queued.
    func close()
    /// Ends a client too slow to keep up, discarding what it had queued.
    func drop()

    /// The transport's frame for an envelope (nil when it cannot be encoded).
    static func frame(_ envelope: ServerEnvelope) -> Frame?
    /// The frame of a bare `ack` for request `id` (the hot path of a vote burst).
    static func ack(id: String) -> Frame
}

extension RoomPeer {
    public var isRemote: Bool { false }
    @discardableResult public func send(_ frame: Frame, cue: CueStamp?) -> Bool { send(frame) }
}
