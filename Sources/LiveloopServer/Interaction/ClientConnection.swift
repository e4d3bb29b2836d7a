import Interaction
import NIOCore

/// One WebSocket client as the room sees it: who it is and its bounded outbound queue.
///
/// The queue holds encoded frames (the same bytes for every recipient of a broadcast). When it is full the client is
/// too slow to keep up: it is dropped from fan-out and closed, never allowed to grow the server's memory.
public final class ClientConnection: Sendable {
    public let id: Int
    public let identity: Identity
    private let outbox: AsyncStream<ByteBuffer>.Continuation

    /// Frames queued for one client before it counts as too slow.
    public static let outboxLimit = 1024

    init(id: Int, identity: Identity, outbox: AsyncStream<ByteBuffer>.Continuation) {
        self.id = id
        self.identity = identity
        self.outbox = outbox
    }

    /// Queues a frame; false when the client is too slow or gone.
    @discardableResult
    func send(_ frame: ByteBuffer) -> Bool {
        switch outbox.yield(frame) {
        case .enqueued: return true
        case .dropped, .terminated: return false
        @unknown default: return false
        }
    }

    /// Ends the outbound queue; the writer closes the socket once it has sent what is queued.
    func close() {
        outbox.finish()
    }

    static func makeOutbox() -> (AsyncStream<ByteBuffer>, AsyncStream<ByteBuffer>.Continuation) {
        AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingOldest(outboxLimit))
    }
}
