import Foundation
import Storage
import Testing

@Suite struct EventLogTests {
    /// A channel name no other test (or earlier run on the same PostgreSQL) uses.
    static func channel() -> String { StoreKind.name() }

    @Test("appends keep their order per channel and return each channel's last id", arguments: StoreKind.allCases)
    func appendOrder(kind: StoreKind) async throws {
        try await kind.with { log in
            let show = Self.channel(), other = Self.channel()
            let first = try await log.appendEvents((0..<300).map { (show, Data("r\($0)".utf8)) } + [(other, Data("x".utf8))])
            let second = try await log.appendEvents([(show, Data("r300".utf8))])
            let firstShow = try #require(first[show])
            #expect(first[other] != nil)
            #expect(try #require(second[show]) > firstShow)
            let records = try await log.records(channel: show, after: 0)
            #expect(records == (0...300).map { Data("r\($0)".utf8) })
            #expect(try await log.records(channel: show, after: firstShow) == [Data("r300".utf8)])
            #expect(try await log.records(channel: other, after: 0) == [Data("x".utf8)])
        }
    }

    @Test("a room's log is its newest checkpoint and the records after it; older checkpoints never replace newer",
          arguments: StoreKind.allCases)
    func checkpoints(kind: StoreKind) async throws {
        try await kind.with { log in
            let show = Self.channel()
            let empty = try await log.roomLog(channel: show)
            #expect(empty.checkpoint == nil && empty.records.isEmpty && empty.lastID == 0)
            let ids = try await log.appendEvents((0..<10).map { (show, Data("r\($0)".utf8)) })
            let tenth = try #require(ids[show])
            try await log.saveCheckpoint(channel: show, through: tenth, body: Data("state-10".utf8))
            try await log.appendEvents([(show, Data("r10".utf8)), (show, Data("r11".utf8))])
            try await log.saveCheckpoint(channel: show, through: tenth - 5, body: Data("stale".utf8))
            let stored = try await log.roomLog(channel: show)
            #expect(stored.checkpoint == Data("state-10".utf8))
            #expect(stored.checkpointThrough == tenth)
            #expect(stored.records == [Data("r10".utf8), Data("r11".utf8)])
            #expect(stored.lastID > tenth)
            try await log.deleteEvents(channel: show)
            let deleted = try await log.roomLog(channel: show)
            #expect(deleted.checkpoint == nil && deleted.records.isEmpty)
        }
    }

    @Test("the group-commit log commits concurrent appends, each answered once durable with its batch's last id",
          arguments: StoreKind.allCases)
    func groupCommit(kind: StoreKind) async throws {
        try await kind.with { log in
            let show = Self.channel()
            let commits = GroupCommitLog(log: log)
            let ids = await withTaskGroup(of: Int64.self) { group -> [Int64] in
                for index in 0..<200 {
                    group.addTask { (try? await commits.append(channel: show, payloads: [Data("v\(index)".utf8)])) ?? -1 }
                }
                var ids: [Int64] = []
                for await id in group { ids.append(id) }
                return ids
            }
            #expect(ids.allSatisfy { $0 > 0 })
            let committed = try await log.records(channel: show, after: 0)
            let lastID = try await log.roomLog(channel: show).lastID
            #expect(committed.count == 200)
            #expect(ids.max() == lastID)
        }
    }
}
