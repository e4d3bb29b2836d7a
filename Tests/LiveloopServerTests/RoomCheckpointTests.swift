import Foundation
import Interaction
@testable import LiveloopServer
import Logging
import Storage
import Testing

/// The event log's compaction: a room with many records restarts from its checkpoint and the records after it.
@Suite struct RoomCheckpointTests {
    static func ask(_ host: RoomHost, _ message: ClientMessage, from identity: Identity) async -> ServerEnvelope? {
        await withCheckedContinuation { continuation in
            host.handle(ClientRequest(id: "r", message), from: identity, sender: nil) { continuation.resume(returning: $0) }
        }
    }

    @Test("a room with 6,000 records restarts reading its checkpoint and a short tail, with every vote counted once")
    func restartFromCheckpoint() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("liveloop-checkpoint-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(directory: directory.path)
        _ = try store.createChannel(name: "show")
        let logger = Logger(label: "test")
        let admin = Identity(sub: "admin", name: "Admin", role: .host)
        let voters = 6_000

        let first = RoomRegistry(store: SQLiteAsyncStore(store), logger: logger, checkpointInterval: 1_000)
        let host = try #require(try await first.room(for: "show"))
        let created = await Self.ask(host, .pollCreate(.init(question: "Which?", options: ["a", "b", "c"])), from: admin)
        guard case let .ack(ack)? = created?.message, let poll = ack.ref else { Issue.record("no poll"); return }
        _ = await Self.ask(host, .pollLaunch(.init(pollID: poll)), from: admin)
        let acknowledged = await withTaskGroup(of: Bool.self) { group -> Int in
            for index in 0..<voters {
                group.addTask {
                    let voter = Identity(sub: "voter-\(index)", name: "V", role: .viewer)
                    let answer = await Self.ask(host, .pollVote(.init(pollID: poll, choices: [index % 3])), from: voter)
                    if case .ack? = answer?.message { return true }
                    return false
                }
            }
            var count = 0
            for await ok in group where ok { count += 1 }
            return count
        }
        #expect(acknowledged == voters)

        // The pipeline stores a checkpoint once the room's memory equals its log; wait for the one after the burst.
        var stored = try await store.roomLog(channel: "show")
        for _ in 0..<100 where stored.checkpoint == nil || stored.records.count >= 1_000 {
            try await Task.sleep(for: .milliseconds(50))
            stored = try await store.roomLog(channel: "show")
        }
        let total = try await store.records(channel: "show", after: 0).count
        #expect(total == voters + 2)
        #expect(stored.checkpoint != nil)
        #expect(stored.records.count < 1_000, "the tail after the checkpoint is shorter than one checkpoint interval")
        first.stopAll()

        // Restart: a new registry on the same database.
        let reopened = try SQLiteStore(directory: directory.path)
        let second = RoomRegistry(store: SQLiteAsyncStore(reopened), logger: logger)
        let clock = ContinuousClock()
        let started = clock.now
        let restarted = try #require(try await second.room(for: "show"))
        let fromCheckpoint = started.duration(to: clock.now)
        let replayStarted = clock.now
        let every = try await reopened.records(channel: "show", after: 0).compactMap { try? JSONDecoder().decode(Record.self, from: $0) }
        let (replayed, _) = Room.restore(records: every, startingSeq: 0)
        let fullReplay = replayStarted.duration(to: clock.now)
        print("room restart: checkpoint + \(stored.records.count) records in \(fromCheckpoint); full replay of \(total) records in \(fullReplay)")

        let snapshot = restarted.snapshot(for: admin)
        let ballots = snapshot.polls.first { $0.pollID == poll }.map { view in view.results?.ballots ?? -1 }
        #expect(ballots == voters)
        #expect(replayed.poll(withID: poll)?.tally.ballots == voters)
        let again = await Self.ask(restarted, .pollVote(.init(pollID: poll, choices: [0])), from: Identity(sub: "voter-1", name: "V", role: .viewer))
        guard case let .error(error)? = again?.message else { Issue.record("a second ballot was accepted"); return }
        #expect(error.code == .alreadyVoted)
        second.stopAll()
    }
}
