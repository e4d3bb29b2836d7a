import Foundation
import Interaction
import NIOPosix
import Storage

/// Reads a channel's broadcasts and their reports out of the event log: the list from the lifecycle records and
/// viewer samples alone, a report from the records of its broadcast (plus the poll and quiz definitions written
/// before it), never the channel's whole history. The rows are read from the store (asynchronously) and decoded on
/// NIO's thread pool, off the cooperative pool and the event loops.
struct BroadcastReports: Sendable {
    let store: any Store

    static func prefix(_ kind: String) -> Data { Data("{\"\(kind)\":".utf8) }
    static let lifecycle = ["broadcastStarted", "broadcastEnded"].map(prefix)
    static let samples = [prefix("viewerSample")]
    static let definitions = ["pollCreated", "quizCreated"].map(prefix)

    /// Broadcast ids are `b` and digits (`LiveBroadcasts.makeID`); anything else names no broadcast.
    static func isValidID(_ id: String) -> Bool {
        id.utf8.count <= 24 && id.first == "b" && id.utf8.dropFirst().allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
            && id.utf8.count > 1
    }

    private static func decode(_ rows: [EventRow]) -> [(id: Int64, record: Record)] {
        let decoder = JSONDecoder()
        return rows.compactMap { row in (try? decoder.decode(Record.self, from: row.payload)).map { (row.id, $0) } }
    }

    /// The channel's broadcasts, newest first.
    func list(channel: String, liveID: String?, now: Date) async throws -> [BroadcastSummary] {
        let rows = try await store.eventRows(channel: channel, startingWith: Self.lifecycle + Self.samples)
        return try await NIOThreadPool.singleton.runIfActive {
            BroadcastIndex.summaries(Self.decode(rows).map(\.record), liveID: liveID, now: Timestamp(now)).reversed()
        }
    }

    /// One broadcast's report, or nil when the channel has no broadcast of that id.
    func report(channel: String, broadcastID: String, liveID: String?, now: Date) async throws -> BroadcastReport? {
        guard Self.isValidID(broadcastID) else { return nil }
        let lifecycle = Self.decode(try await store.eventRows(channel: channel, startingWith: Self.lifecycle))
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
        let definitions = try await store.eventRows(channel: channel, startingWith: Self.definitions, before: startRow)
        let rows = try await store.eventRows(channel: channel, from: startRow, until: until)
        return try await NIOThreadPool.singleton.runIfActive {
            var builder = BroadcastReportBuilder(broadcastID: broadcastID)
            for entry in Self.decode(definitions) { builder.add(entry.record) }
            let decoder = JSONDecoder()
            for row in rows {
                if let record = try? decoder.decode(Record.self, from: row.payload) { builder.add(record) }
            }
            return builder.report(channel: channel, live: broadcastID == liveID, now: Timestamp(now))
        }
    }
}
