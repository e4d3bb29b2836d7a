/// What the room asks the server to do after a request or a tick.
///
/// Order of work for the server: commit `records` to the durable store (group commit); only then send `reply` to the
/// sender and each broadcast to the connections in its audience (encode each envelope once). If the commit fails, send
/// nothing and rebuild the room from the store. After a `moderation` broadcast with action `ban`, close that user's
/// connections.
public struct RoomUpdate: Sendable, Hashable {
    /// The answer to the sender: `ack`/`error`/`pong` with the request id; nil for a tick, and for an accepted
    /// request that carried no `id`.
    public var reply: ServerEnvelope?
    public var broadcasts: [RoomBroadcast]
    public var records: [Record]

    public init(reply: ServerEnvelope? = nil, broadcasts: [RoomBroadcast] = [], records: [Record] = []) {
        self.reply = reply
        self.broadcasts = broadcasts
        self.records = records
    }

    /// The broadcasts `identity` receives, as envelopes (convenient for tests and simple servers).
    public func frames(for identity: Identity) -> [ServerEnvelope] {
        broadcasts.filter { $0.audience.includes(identity) }.map(\.envelope)
    }

    /// The messages `identity` receives.
    public func messages(for identity: Identity) -> [ServerMessage] {
        broadcasts.filter { $0.audience.includes(identity) }.map(\.message)
    }
}
