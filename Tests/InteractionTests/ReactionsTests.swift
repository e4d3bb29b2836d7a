import Testing
import Interaction

@Suite("Reactions")
struct ReactionsTests {
    @Test("a burst of taps becomes one reactions message per tick")
    func aggregated() {
        var room = makeRoom()
        for number in 0..<1_000 {
            let update = room.handle(.reaction(.init(emoji: number % 4 == 0 ? "🔥" : "❤️")), from: viewer(number), at: t0)
            #expect(update.broadcasts.isEmpty && update.reply == nil)
        }
        let tick = room.tick(at: at(0.2))
        #expect(tick.messages(for: viewer(1)) == [.reactions(.init(counts: ["🔥": 250, "❤️": 750]))])
        #expect(tick.broadcasts.allSatisfy { !$0.replayable })
        #expect(room.tick(at: at(0.4)).broadcasts.isEmpty)
    }

    @Test("reactions outside the channel's set are refused")
    func allowedSet() {
        var room = makeRoom { $0.allowedReactions = ["👍"] }
        #expect(room.send(.reaction(.init(emoji: "💩")), from: viewer(1)).errorCode == .reactionNotAllowed)
        #expect(room.send(.reaction(.init(emoji: "👍")), from: viewer(1)).isAck)
    }

    @Test("counts from other shards merge into the next tick")
    func merge() {
        var room = makeRoom()
        room.send(.reaction(.init(emoji: "👍")), from: viewer(1))
        room.mergeReactions(["👍": 10, "🔥": 2, "not-allowed": 5])
        #expect(room.tick(at: at(0.1)).messages(for: viewer(1)) == [.reactions(.init(counts: ["👍": 11, "🔥": 2]))])
    }

    @Test("reaction taps are rate limited per user")
    func rateLimited() {
        var room = makeRoom { $0.rateLimits.reactions = RateLimit(burst: 2, perSecond: 1) }
        #expect(room.send(.reaction(.init(emoji: "👍")), from: viewer(1)).isAck)
        #expect(room.send(.reaction(.init(emoji: "👍")), from: viewer(1)).isAck)
        #expect(room.send(.reaction(.init(emoji: "👍")), from: viewer(1)).errorCode == .rateLimited)
    }

    @Test("the viewer count goes out on a tick when it changes, at most twice a second")
    func viewerCount() throws {
        var room = makeRoom()
        try room.join(viewer(1))
        try room.join(viewer(2))
        #expect(room.tick(at: at(0.1)).messages(for: viewer(1)) == [.viewers(.init(count: 2))])
        #expect(room.tick(at: at(0.2)).broadcasts.isEmpty)
        room.leave(viewer(2))
        // Changed, but the last count went out 0.2 s ago: it waits for the next tick after 0.5 s.
        #expect(room.tick(at: at(0.3)).broadcasts.isEmpty)
        #expect(room.tick(at: at(0.6)).messages(for: viewer(1)) == [.viewers(.init(count: 1))])
    }
}
