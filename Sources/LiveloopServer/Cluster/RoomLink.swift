import Foundation
import Interaction
import NIOCore
import Synchronization

/// The room's node's end of one other node's room link (``RoomLinkRoutes``): the records it streams to that node, in
/// order, bounded at `limit` bytes waiting (past that the link is cut and that node reconnects its clients, as a slow
/// client is dropped), and the node's clients as this room knows them.
///
/// Records queue into one buffer; the response takes all of it at each write, so a burst of acks written while the
/// previous write was in flight leaves in one write, not one each.
final class RoomLink: Sendable {
    let node: String
    let epoch: Int
    let limit: Int
    /// Yields whenever records are waiting (`take()` them); finishes when the link closes.
    let wakeups: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let state = Mutex(State())

    struct State: Sendable {
        var pending = ByteBuffer()
        var closed = false
        /// That node's clients by its number for them.
        var clients: [Int: ClientConnection] = [:]
    }

    init(node: String, epoch: Int, limit: Int = 16 << 20) {
        self.node = node
        self.epoch = epoch
        self.limit = limit
        (wakeups, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a record; false when the link is closed, or full (it closes then).
    @discardableResult
    func send(_ record: RoomLinkRecord) -> Bool {
        var buffer = ByteBuffer()
        RoomLinkCodec.encode(record, into: &buffer)
        let size = buffer.readableBytes
        let overflowed = state.withLock { state -> Bool? in
            guard !state.closed else { return nil }
            guard state.pending.readableBytes + size <= limit else {
                state.closed = true
                return true
            }
            state.pending.writeBuffer(&buffer)
            return false
        }
        if overflowed == false { continuation.yield() }
        if overflowed == true { continuation.finish() }
        return overflowed == false
    }

    /// Everything queued, in order (empty when nothing is).
    func take() -> ByteBuffer {
        state.withLock { state in
            defer { state.pending = ByteBuffer() }
            return state.pending
        }
    }

    func close() {
        let wasOpen = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        if wasOpen { continuation.finish() }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    func add(_ client: ClientConnection, number: Int) {
        state.withLock { $0.clients[number] = client }
    }

    func client(_ number: Int) -> ClientConnection? {
        state.withLock { $0.clients[number] }
    }

    func remove(_ number: Int) -> ClientConnection? {
        state.withLock { $0.clients.removeValue(forKey: number) }
    }

    /// Every client still known, forgotten here (the link ended: the room lets them go).
    func takeClients() -> [ClientConnection] {
        state.withLock { state in
            defer { state.clients.removeAll() }
            return Array(state.clients.values)
        }
    }
}
