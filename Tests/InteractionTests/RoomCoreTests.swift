import Foundation
import Interaction
import Synchronization
import Testing

/// A peer that keeps what it is sent (the core's frames are envelopes here), with the playhead a player reports.
final class RecordingPeer: RoomPeer {
    let id: Int
    let identity: Identity
    let displayLatencyMilliseconds: Int
    let transitCreditMilliseconds = 0
    let leadMilliseconds: Int
    let wasTooSlow = false
    private let received = Mutex<[ServerEnvelope]>([])
    private let ended = Mutex(false)

    init(_ id: Int, _ identity: Identity, latency: Int = 0, lead: Int = 150) {
        self.id = id
        self.identity = identity
        displayLatencyMilliseconds = latency
        leadMilliseconds = lead
    }

    func send(_ frame: ServerEnvelope) -> Bool {
        received.withLock { $0.append(frame) }
        return true
    }

    func close() { ended.withLock { $0 = true } }
    func drop() { ended.withLock { $0 = true } }

    static func frame(_ envelope: ServerEnvelope) -> ServerEnvelope? { envelope }
    static func ack(id: String) -> ServerEnvelope { ServerEnvelope(id: id, .ack(.init())) }

    var frames: [ServerEnvelope] { received.withLock { $0 } }
    var messages: [ServerMessage] { frames.map(\.message) }
    var isClosed: Bool { ended.withLock { $0 } }
    func acks(_ id: String) -> Int {
        frames.filter { frame in
            if case .ack = frame.message { return frame.id == id }
            return false
        }.count
    }
}

/// Drives a `RoomCore` the way the server's shell does — take a batch, "commit" it, complete it — with a virtual
/// clock: every call gets its time from the test, nothing sleeps.
struct Harness {
    let core: RoomCore<RecordingPeer>
    var delivery = RoomDelivery<RecordingPeer>()
    /// Everything "committed" so far, in order.
    var log: [Record] = []

    init(_ room: Room = makeRoom()) {
        core = RoomCore(room: room)
    }

    /// Takes the next batch and completes it as committed (or refused), at `now`.
    @discardableResult
    mutating func flush(at now: Timestamp, committed: Bool = true) -> (records: [Record], completion: RoomCore<RecordingPeer>.Completion) {
        let batch = core.takeBatch()
        let records = batch.records
        if committed { log += records }
        let completion = core.complete(batch, committed: committed, at: now.unixMilliseconds, into: &delivery)
        return (records, completion)
    }

    func send(_ message: ClientMessage, id: String = "r", from peer: RecordingPeer, cue: CueStamp? = nil, at now: Timestamp) {
        core.handle(ClientRequest(id: id, message), from: peer.identity, origin: .peer(peer), cue: cue, at: now)
    }
}

func pollID(in peer: RecordingPeer) -> String? {
    for message in peer.messages { if case let .poll(view) = message { return view.pollID } }
    return nil
}

/// The newest tally a peer got (staff get one when a poll closes, everyone when it is revealed).
func closingTally(in peer: RecordingPeer) -> ServerMessage.TallyView? {
    for message in peer.messages.reversed() {
        switch message {
        case let .tally(tally), let .results(tally): return tally
        default: continue
        }
    }
    return nil
}

/// The poll id in the host's ack of its `create` request.
func createdPoll(_ peer: RecordingPeer) -> String? {
    guard case let .ack(ack)? = peer.frames.first(where: { $0.id == "create" })?.message else { return nil }
    return ack.ref
}

@Suite struct RoomCoreTests {
    @Test("votes are acknowledged only once their batch is committed, and a close comes after them in the log and tally")
    func votesBeforeClose() throws {
        var harness = Harness()
        let hostPeer = RecordingPeer(1, host)
        let voters = (1...3).map { RecordingPeer(10 + $0, viewer($0)) }
        try harness.core.connect(hostPeer, lastSeq: nil, at: t0)
        for voter in voters { try harness.core.connect(voter, lastSeq: nil, at: t0) }
        harness.send(.pollCreate(.init(question: "Which?", options: ["a", "b"])), id: "create", from: hostPeer, at: t0)
        harness.flush(at: t0)
        let created = try #require(hostPeer.frames.first { $0.id == "create" })
        guard case let .ack(ack) = created.message, let poll = ack.ref else { Issue.record("no ack for create"); return }
        harness.send(.pollLaunch(.init(pollID: poll)), from: hostPeer, at: t0.plus(1))
        harness.flush(at: t0.plus(1))
        #expect(pollID(in: voters[0]) == poll)

        for (index, voter) in voters.enumerated() {
            harness.send(.pollVote(.init(pollID: poll, choices: [index == 2 ? 1 : 0])), id: "v", from: voter, at: t0.plus(2))
        }
        // Accepted by the ballot boxes, not yet committed: no ack on any wire.
        #expect(voters.allSatisfy { $0.acks("v") == 0 })
        harness.send(.pollClose(.init(pollID: poll)), id: "close", from: hostPeer, at: t0.plus(3))
        let (records, _) = harness.flush(at: t0.plus(3))
        let kinds = records.map { record -> String in
            switch record {
            case .vote: "vote"
            case .pollClosed: "close"
            default: "other"
            }
        }
        #expect(kinds == ["vote", "vote", "vote", "close"])
        #expect(voters.allSatisfy { $0.acks("v") == 1 })
        let tally = try #require(closingTally(in: hostPeer))
        #expect(tally.counts == [2, 1])
        #expect(tally.ballots == 3)
        // A vote after the close is refused at once, without a batch.
        harness.send(.pollVote(.init(pollID: poll, choices: [0])), id: "late", from: voters[0], at: t0.plus(4))
        let late = try #require(voters[0].frames.last)
        guard case let .error(error) = late.message else { Issue.record("late vote accepted"); return }
        #expect(error.code == .pollClosed)
    }

    @Test("a batch that could not be committed answers not-stored and delivers none of its broadcasts")
    func refusedCommit() throws {
        var harness = Harness()
        let hostPeer = RecordingPeer(1, host)
        let watcher = RecordingPeer(2, viewer(1))
        try harness.core.connect(hostPeer, lastSeq: nil, at: t0)
        try harness.core.connect(watcher, lastSeq: nil, at: t0)
        harness.flush(at: t0)
        harness.send(.chatSend(.init(text: "hello")), id: "chat", from: hostPeer, at: t0.plus(1))
        let (_, completion) = harness.flush(at: t0.plus(1), committed: false)
        #expect(completion.failed)
        let answer = try #require(hostPeer.frames.last)
        guard case let .error(error) = answer.message else { Issue.record("expected an error"); return }
        #expect(error.code == .unavailable)
        #expect(!watcher.messages.contains { if case .chat = $0 { true } else { false } })
        #expect(harness.log.isEmpty)
    }

    @Test("while the store is away, requests that would store a record are refused at once as unavailable; pings go on; writes are taken again after")
    func storeAway() throws {
        var harness = Harness()
        let hostPeer = RecordingPeer(1, host)
        try harness.core.connect(hostPeer, lastSeq: nil, at: t0)
        harness.flush(at: t0)
        harness.core.storeUnavailable()
        #expect(!harness.core.isWritable)
        harness.send(.chatSend(.init(text: "hello")), id: "chat", from: hostPeer, at: t0.plus(1))
        let refused = try #require(hostPeer.frames.last)
        guard case let .error(error) = refused.message else { Issue.record("a write was taken while the store is away"); return }
        #expect(error.code == .unavailable && refused.id == "chat")
        harness.flush(at: t0.plus(1))
        #expect(harness.log.isEmpty, "nothing reached the batch")
        harness.send(.ping(.init()), id: "ping", from: hostPeer, at: t0.plus(2))
        harness.flush(at: t0.plus(2))
        #expect(hostPeer.frames.contains { if case .pong = $0.message { $0.id == "ping" } else { false } }, "a ping is answered")
        harness.core.storeAvailable()
        harness.send(.chatSend(.init(text: "back")), id: "chat2", from: hostPeer, at: t0.plus(3))
        harness.flush(at: t0.plus(3))
        #expect(!harness.log.isEmpty, "writes are taken again")
    }

    @Test("a cue-bearing frame leaves for a viewer a lead before their playhead reaches the cue; staff get it at once")
    func playheadHold() throws {
        var harness = Harness()
        let hostPeer = RecordingPeer(1, host)
        let behind = RecordingPeer(2, viewer(1), latency: 3000, lead: 150)
        try harness.core.connect(hostPeer, lastSeq: nil, at: t0)
        try harness.core.connect(behind, lastSeq: nil, at: t0)
        harness.flush(at: t0)
        harness.send(.pollCreate(.init(question: "Which?", options: ["a", "b"])), id: "create", from: hostPeer, at: t0)
        harness.flush(at: t0)
        let poll = try #require(createdPoll(hostPeer))
        let cue = CueStamp(at: t0.plus(1), mediaTime: 10)
        harness.send(.pollLaunch(.init(pollID: poll)), from: hostPeer, cue: cue, at: t0.plus(1))
        harness.flush(at: t0.plus(1))
        #expect(pollID(in: hostPeer) == poll)
        #expect(pollID(in: behind) == nil)
        #expect(harness.delivery.isHolding)
        // Due at cue + latency - lead = t0 + 1 s + 3000 ms - 150 ms.
        harness.delivery.release(now: t0.plus(3.849).unixMilliseconds)
        #expect(pollID(in: behind) == nil)
        harness.delivery.release(now: t0.plus(3.850).unixMilliseconds)
        #expect(pollID(in: behind) == poll)
        #expect(!harness.delivery.isHolding)
    }

    @Test("the tick closes a windowed poll at its deadline after the votes the boxes accepted before it")
    func windowExpiry() throws {
        var harness = Harness()
        let hostPeer = RecordingPeer(1, host)
        let voter = RecordingPeer(2, viewer(1))
        try harness.core.connect(hostPeer, lastSeq: nil, at: t0)
        try harness.core.connect(voter, lastSeq: nil, at: t0)
        harness.send(.pollCreate(.init(question: "Which?", options: ["a", "b"], windowSeconds: 5)), id: "create", from: hostPeer, at: t0)
        harness.flush(at: t0)
        let poll = try #require(createdPoll(hostPeer))
        harness.send(.pollLaunch(.init(pollID: poll)), from: hostPeer, at: t0)
        harness.flush(at: t0)
        harness.send(.pollVote(.init(pollID: poll, choices: [1])), id: "v", from: voter, at: t0.plus(4.9))
        _ = harness.core.tick(at: t0.plus(4.95))
        let closing = try #require(harness.core.tick(at: t0.plus(5.1)))
        #expect(closing.records.contains { if case .pollClosed = $0 { true } else { false } })
        let (records, _) = harness.flush(at: t0.plus(5.1))
        let voteIndex = try #require(records.firstIndex { if case .vote = $0 { true } else { false } })
        let closeIndex = try #require(records.firstIndex { if case .pollClosed = $0 { true } else { false } })
        #expect(voteIndex < closeIndex)
        #expect(closingTally(in: hostPeer)?.counts == [0, 1])
    }

    @Test("a room rebuilt from a checkpoint and the records after it equals one replayed from all its records")
    func checkpointEqualsReplay() throws {
        var harness = Harness()
        let hostPeer = RecordingPeer(1, host)
        let voters = (1...40).map { RecordingPeer(10 + $0, viewer($0)) }
        try harness.core.connect(hostPeer, lastSeq: nil, at: t0)
        harness.send(.pollCreate(.init(question: "Which?", options: ["a", "b", "c"])), id: "create", from: hostPeer, at: t0)
        harness.flush(at: t0)
        let poll = try #require(createdPoll(hostPeer))
        harness.send(.pollLaunch(.init(pollID: poll)), from: hostPeer, at: t0)
        harness.send(.chatSend(.init(text: "welcome")), from: hostPeer, at: t0.plus(1))
        harness.send(.chatSlowMode(.init(seconds: 7)), from: hostPeer, at: t0.plus(1))
        harness.send(.modBan(.init(sub: viewer(40).sub)), from: hostPeer, at: t0.plus(1))
        for (index, voter) in voters.prefix(30).enumerated() {
            harness.send(.pollVote(.init(pollID: poll, choices: [index % 3])), from: voter, at: t0.plus(2))
        }
        // Votes not taken by a batch yet: the room's memory is ahead of its log, so no checkpoint.
        #expect(harness.core.settledCheckpoint() == nil)
        harness.flush(at: t0.plus(2))
        let checkpoint = try #require(harness.core.settledCheckpoint())
        let decoded = try #require(RoomCheckpoint.decode(try checkpoint.encoded()))
        let covered = harness.log.count
        for voter in voters[30..<35] {
            harness.send(.pollVote(.init(pollID: poll, choices: [2])), from: voter, at: t0.plus(3))
        }
        harness.send(.chatSend(.init(text: "after the checkpoint")), from: hostPeer, at: t0.plus(3))
        harness.flush(at: t0.plus(3))

        var configuration = RoomConfiguration()
        configuration.rateLimits = .disabled
        let tail = Array(harness.log[covered...])
        var (fromCheckpoint, skippedTail) = Room.restore(configuration: configuration, checkpoint: decoded, records: tail, startingSeq: 0)
        var (replayed, skippedAll) = Room.restore(configuration: configuration, records: harness.log, startingSeq: 0)
        #expect(skippedTail == 0 && skippedAll == 0)
        #expect(fromCheckpoint.snapshot(for: host) == replayed.snapshot(for: host))
        #expect(fromCheckpoint.poll(withID: poll)?.tally.ballots == 35)
        #expect(fromCheckpoint.isBanned(viewer(40).sub))
        // The ballots came along: a voter counted before the checkpoint cannot vote twice.
        let again = fromCheckpoint.send(.pollVote(.init(pollID: poll, choices: [0])), from: viewer(1), at: t0.plus(4))
        #expect(again.errorCode == .alreadyVoted)
        #expect(replayed.send(.pollVote(.init(pollID: poll, choices: [0])), from: viewer(1), at: t0.plus(4)).errorCode == .alreadyVoted)
    }
}
