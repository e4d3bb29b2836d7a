import Foundation
import Interaction
import NIOCore
import Synchronization

/// The room's node's end of one other node's room link (``RoomLinkRoutes``): the records it streams to that node, in
/// order, bounded at `limit` bytes waiting (past that the link is cut and that node reconnects its clients, as a slow
/// client is dropped), and the node's clients as this room knows them.
final class RoomLink: Sendable {
    let node: String
    let epoch: Int
    let limit: Int
    let stream: AsyncStream<ByteBuffer>
    private let continuation: AsyncStream<ByteBuffer>.Continuation
    private let state = Mutex(State())

    struct State: Sendable {
        var queued = 0
        var closed = false
        /// That node's clients by its number for them.
        var clients: [Int: ClientConnection] = [:]
    }

    init(node: String, epoch: Int, limit: Int = 16 << 20) {
        self.node = node
        self.epoch = epoch
        self.limit = limit
        (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
    }

    /// Queues a record; false when the link is closed, or full (it closes then).
    @discardableResult
    func send(_ record: RoomLinkRecord) -> Bool {
        var buffer = ByteBuffer()
        RoomLinkCodec.encode(record, into: &buffer)
        let size = buffer.readableBytes
        let overflowed = state.withLock { state -> Bool? in
            guard !state.closed else { return nil }
            guard state.queued + size <= limit else {
                state.closed = true
                return true
            }
            state.queued += size
            // Yielded under the lock, so records leave in the order they were taken.
            continuation.yield(buffer)
            return false
        }
        if overflowed == true { continuation.finish() }
        return overflowed == false
    }

    /// The response wrote `bytes` of what was queued.
    func written(_ bytes: Int) {
        state.withLock { $0.queued -= bytes }
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
