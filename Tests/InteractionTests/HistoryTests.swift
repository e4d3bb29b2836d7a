import Testing
import Interaction

@Suite("Sequence numbers and resume")
struct HistoryTests {
    @Test("every broadcast carries a strictly increasing seq")
    func monotonic() {
        var room = makeRoom()
        var seqs: [UInt64] = []
        let pollID = room.launchPoll()
        for number in 0..<20 {
            seqs += room.say("m\(number)", as: viewer(number)).broadcasts.map(\.seq)
            room.send(.reaction(.init(emoji: "🔥")), from: viewer(number))
            room.vote(pollID, [0], by: viewer(number))
            seqs += room.tick(at: at(Double(number) * 0.1)).broadcasts.map(\.seq)
        }
        #expect(seqs.count > 40)
        #expect(zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 })
        #expect(seqs.last == room.seq)
    }

    @Test("a reconnecting client gets exactly what it missed, filtered to its audience")
    func resume() {
        var room = makeRoom()
        room.say("before", as: viewer(1))
        let lastSeen = room.seq
        room.say("missed", as: viewer(2))
        room.send(.modShadowBan(.init(sub: "user-3")), from: moderator)
        room.say("hidden", as: viewer(3))
        room.send(.reaction(.init(emoji: "🔥")), from: viewer(2))
        _ = room.tick(at: at(0.1))
        room.send(.pollCreate(.init(question: "Q", options: ["a", "b"])), from: host)
        let (hello, missed) = room.hello(for: viewer(1), resumingAfter: lastSeen, at: at(1))
        guard case .hello(let payload) = hello.message else { Issue.record("no hello"); return }
        #expect(payload.recovered && payload.snapshot == nil && payload.currentSeq == room.seq)
        let texts = missed.compactMap { frame -> String? in if case .chat(let message) = frame.message { message.text } else { nil } }
        #expect(texts == ["missed"])
        // The replay (sequenced), then the current transient counts (no seq): viewers and supporters.
        let replayed = missed.filter { $0.seq != nil }
        #expect(replayed.count == 1)
        #expect(replayed.allSatisfy { ($0.seq ?? 0) > lastSeen })
        let transient = missed.filter { $0.seq == nil }.map(\.message)
        #expect(transient.contains { if case .viewers = $0 { true } else { false } })
        #expect(transient.contains { if case .supporters = $0 { true } else { false } })
        #expect(room.resume(afterSeq: lastSeen, for: viewer(3))?.count == 2)
        #expect(room.resume(afterSeq: lastSeen, for: host)?.count == 2)
        #expect(room.resume(afterSeq: room.seq, for: viewer(1)) == [])
    }

    @Test("a client too far behind, or from the future, gets a fresh snapshot with recovered false")
    func tooOld() {
        var room = makeRoom { $0.broadcastHistoryLimit = 10 }
        let first = room.say("first", as: viewer(1)).broadcasts.first?.seq ?? 0
        for number in 0..<20 { room.say("m\(number)", as: viewer(2)) }
        #expect(room.resume(afterSeq: first, for: viewer(1)) == nil)
        #expect(room.resume(afterSeq: room.seq + 5, for: viewer(1)) == nil)
        #expect(room.resume(afterSeq: room.seq - 10, for: viewer(1))?.count == 10)
        let (hello, missed) = room.hello(for: viewer(1), resumingAfter: first, at: at(1))
        guard case .hello(let payload) = hello.message else { Issue.record("no hello"); return }
        #expect(!payload.recovered && missed.isEmpty)
        #expect(payload.snapshot?.chat.count == 21)
        #expect(payload.you == viewer(1))
    }

    @Test("a restarted room does not resume clients of the previous instance")
    func restartedRoom() {
        var room = Room(configuration: RoomConfiguration(), startingSeq: Room.startingSeq(at: t0))
        let update = room.say("hello", as: viewer(1))
        let (restored, skipped) = Room.restore(records: update.records, startingSeq: Room.startingSeq(at: at(60)))
        #expect(skipped == 0)
        #expect(restored.seq > room.seq)
        #expect(restored.resume(afterSeq: room.seq, for: viewer(1)) == nil)
        #expect(restored.resume(afterSeq: restored.seq, for: viewer(1)) == [])
    }

    @Test("the snapshot shows staff drafts and counts, and viewers only what is public")
    func snapshotByRole() {
        var room = makeRoom()
        room.send(.pollCreate(.init(question: "Draft", options: ["a", "b"])), from: host)
        let live = room.launchPoll()
        room.vote(live, [1], by: viewer(1))
        let forViewer = room.snapshot(for: viewer(2))
        let forHost = room.snapshot(for: host)
        #expect(forViewer.polls.map(\.pollID) == [live])
        #expect(forViewer.polls.first?.results == nil)
        #expect(forHost.polls.count == 2)
        #expect(forHost.polls.last?.results?.counts == [0, 1, 0])
        #expect(forViewer.allowedReactions == RoomConfiguration().allowedReactions)
        #expect(forViewer.gifts.map(\.giftID) == GiftItem.defaults.map(\.giftID))
    }
}
