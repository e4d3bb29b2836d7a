import Foundation

/// What a room is rebuilt from: its newest checkpoint (if any) and the records committed after it.
public struct RoomLog: Sendable, Hashable {
    /// The encoded `RoomCheckpoint`, nil when the room has none (then `records` is its whole history).
    public var checkpoint: Data?
    /// The id of the last record the checkpoint covers (0 without one).
    public var checkpointThrough: Int64
    /// The records after the checkpoint, oldest first.
    public var records: [Data]
    /// The id of the channel's newest record (0 when it has none).
    public var lastID: Int64

    public init(checkpoint: Data?, checkpointThrough: Int64, records: [Data], lastID: Int64) {
        self.checkpoint = checkpoint
        self.checkpointThrough = checkpointThrough
        self.records = records
        self.lastID = lastID
    }
}

/// The interaction event log of every room: append-only records per channel, and checkpoints that let a restart read
/// a room's state and the tail after it instead of its whole history (the rows stay: analytics reads them).
///
/// Every call is asynchronous and never blocks the cooperative pool: the SQLite store runs on GRDB's own queues, the
/// PostgreSQL store on its connection pool's event loops.
public protocol EventLog: Sendable {
    /// Appends records of one or more channels in one transaction, in order; returns the id of each channel's last
    /// appended record.
    @discardableResult
    func appendEvents(_ batch: [(channel: String, payload: Data)]) async throws -> [String: Int64]

    /// A channel's newest checkpoint and the records after it.
    func roomLog(channel: String) async throws -> RoomLog

    /// A channel's records with an id above `after`, oldest first (`after: 0`: its whole history).
    func records(channel: String, after: Int64) async throws -> [Data]

    /// Stores a checkpoint covering the channel's records up to `through` (it replaces an older one).
    func saveCheckpoint(channel: String, through: Int64, body: Data) async throws

    /// Deletes a channel's records and checkpoint (the channel was deleted).
    func deleteEvents(channel: String) async throws
}
