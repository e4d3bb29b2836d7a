import Foundation
import Interaction
import Storage

/// Reads a channel's broadcasts and their reports out of the event log: the list from the lifecycle records and
/// viewer samples alone, a report from the records of its broadcast (plus the poll and quiz definitions written
/// before it), never the channel's whole history.
struct BroadcastReports: Sendable {
    let store: SQLiteStore

    static func prefix(_ kind: String) -> Data { Data("{\"\(kind)\":".utf8) }
    static let lifecycle = ["broadcastStarted", "broadcastEnded"].map(prefix)
    static let samples = [prefix("viewerSample")]
    static let definitions = ["pollCreated", "quizCreated"].map(prefix)

    /// Broadcast ids are `b` and digits (`LiveBroadcasts.makeID`); anything else names no broadcast.
    static func isValidID(_ id: String) -> Bool {
        id.utf8.count <= 24 && id.first == "b" && id.utf8.dropFirst().allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
            && id.utf8.count > 1
    }

    private static func decode(_ rows: [SQLiteStore.EventRow]) -> [(id: Int64, record: Record)] {
        let decoder = JSONDecoder()
        return rows.compactMap { row in (try? decoder.decode(Record.self, from: row.payload)).map { (row.id, $0) } }
    }

    /// The channel's broadcasts, newest first.
    func list(channel: String, liveID: String?, now: Date) throws -> [BroadcastSummary] {
        let rows = try store.eventRows(channel: channel, startingWith: Self.lifecycle + Self.samples)
        return BroadcastIndex.summaries(Self.decode(rows).map(\.record), liveID: liveID, now: Timestamp(now)).reversed()
    }

    /// One broadcast's report, or nil when the channel has no broadcast of that id.
    func report(channel: String, broadcastID: String, liveID: String?, now: Date) throws -> BroadcastReport? {
        guard Self.isValidID(broadcastID) else { return nil }
        let lifecycle = Self.decode(try store.eventRows(channel: channel, startingWith: Self.lifecycle))
        guard let start = lifecycle.firstIndex(where: {
            if case .broadcastStarted(let id, _) = $0.record { id == broadcastID } else { false }
        }) else { return nil }
        let startRow = lifecycle[start].id
        // The broadcast's records run to its end record, or to the next broadcast's start when it has none.
        var until: Int64?
        for entry in lifecycle[(start + 1)...] {
            if case .broadcastEnded(let id, _) = entry.record, id == broadcastID {
                until = entry.id + 1
                break
            }
            if case .broadcastStarted = entry.record {
                until = entry.id
                break
            }
        }
        var builder = BroadcastReportBuilder(broadcastID: broadcastID)
        for entry in Self.decode(try store.eventRows(channel: channel, startingWith: Self.definitions, before: startRow)) {
            builder.add(entry.record)
        }
        let decoder = JSONDecoder()
        for row in try store.eventRows(channel: channel, from: startRow, until: until) {
            if let record = try? decoder.decode(Record.self, from: row.payload) { builder.add(record) }
        }
        return builder.report(channel: channel, live: broadcastID == liveID, now: Timestamp(now))
    }
}
