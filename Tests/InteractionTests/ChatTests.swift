import Testing
import Interaction

extension Room {
    @discardableResult
    mutating func say(_ text: String, as identity: Identity, at now: Timestamp = t0) -> RoomUpdate {
        send(.chatSend(.init(text: text)), from: identity, at: now)
    }
}

@Suite("Chat")
struct ChatTests {
    @Test("a message is broadcast to everyone and acknowledged with its id")
    func send() {
        var room = makeRoom()
        let update = room.say("  hello  ", as: viewer(1))
        let chats = only(update.messages(for: viewer(2))) { if case .chat(let message) = $0 { message } else { nil } }
        #expect(chats.map(\.text) == ["hello"])
        #expect(update.ackRef == chats.first?.messageID)
        #expect(update.records.count == 1)
    }

    @Test("moderation reaches only users below the actor: a moderator cannot ban a host or another moderator")
    func staffOutranks() throws {
        var room = makeRoom()
        let deputy = Identity(sub: "mod-2", name: "Dee", role: .moderator)
        for identity in [host, moderator, deputy, viewer(1)] { try room.join(identity) }
        #expect(room.send(.modBan(.init(sub: host.sub)), from: moderator).errorCode == .forbidden)
        #expect(room.send(.modTimeout(.init(sub: deputy.sub, seconds: 60)), from: moderator).errorCode == .forbidden)
        #expect(room.send(.modShadowBan(.init(sub: host.sub, enabled: true)), from: moderator).errorCode == .forbidden)
        #expect(!room.isBanned(host.sub))
        #expect(room.send(.modTimeout(.init(sub: moderator.sub, seconds: 60)), from: host).isAck)
        // A timed-out moderator is held like anyone else; the other moderator still acts.
        #expect(room.send(.modBan(.init(sub: viewer(1).sub)), from: moderator).errorCode == .timedOut)
        #expect(room.send(.modBan(.init(sub: viewer(1).sub)), from: deputy).isAck)
    }

    @Test("messages longer than the limit are too_large; empty ones are bad_request")
    func lengthLimits() {
        var room = makeRoom { $0.maxMessageLength = 10 }
        #expect(room.say(String(repeating: "x", count: 10), as: viewer(1)).isAck)
        #expect(room.say(String(repeating: "x", count: 11), as: viewer(1)).errorCode == .tooLarge)
        #expect(room.say(" \n ", as: viewer(1)).errorCode == .badRequest)
    }

    @Test("the word filter blocks whole words case-insensitively", arguments: [
        ("this is BAD!", true), ("badge", false), ("so bad", true), ("very evil plan here", true),
        ("evil", false), ("b.a.d", false), ("Bad-luck", true),
    ])
    func filter(text: String, blocked: Bool) {
        var room = makeRoom { $0.filterWords = ["bad", "Evil Plan"] }
        let update = room.say(text, as: viewer(1))
        #expect((update.errorCode == .filtered) == blocked)
    }

    @Test("the filter can be replaced at run time, and staff are exempt")
    func filterUpdate() {
        var room = makeRoom()
        #expect(room.send(.chatFilter(.init(words: ["spoiler"])), from: moderator).isAck)
        #expect(room.say("Spoiler alert", as: viewer(1)).errorCode == .filtered)
        #expect(room.say("spoiler alert", as: moderator).isAck)
    }

    @Test("slow mode spaces one viewer's messages; staff are exempt")
    func slowMode() {
        var room = makeRoom()
        let update = room.send(.chatSlowMode(.init(seconds: 10)), from: moderator)
        #expect(update.messages(for: viewer(1)) == [.chatSettings(.init(slowModeSeconds: 10))])
        #expect(room.say("one", as: viewer(1), at: at(0)).isAck)
        #expect(room.say("two", as: viewer(1), at: at(9.9)).errorCode == .slowMode)
        #expect(room.say("other", as: viewer(2), at: at(9.9)).isAck)
        #expect(room.say("three", as: viewer(1), at: at(10)).isAck)
        #expect(room.say("a", as: moderator, at: at(10)).isAck)
        #expect(room.say("b", as: moderator, at: at(10)).isAck)
    }

    @Test("a token bucket allows a burst, then refills at its rate")
    func rateLimit() {
        var room = makeRoom { $0.rateLimits.chat = RateLimit(burst: 3, perSecond: 1) }
        for number in 0..<3 { #expect(room.say("m\(number)", as: viewer(1)).isAck) }
        #expect(room.say("m3", as: viewer(1)).errorCode == .rateLimited)
        #expect(room.say("other user", as: viewer(2)).isAck)
        #expect(room.say("m4", as: viewer(1), at: at(0.5)).errorCode == .rateLimited)
        #expect(room.say("m5", as: viewer(1), at: at(1)).isAck)
        #expect(room.say("m6", as: viewer(1), at: at(1)).errorCode == .rateLimited)
    }

    @Test("a message refused after the rate-limit check (filtered, slow mode) still uses the sender's token")
    func refusalUsesTokens() {
        var room = makeRoom {
            $0.rateLimits.chat = RateLimit(burst: 2, perSecond: 0.001)
            $0.filterWords = ["bad"]
        }
        #expect(room.say("bad 1", as: viewer(1)).errorCode == .filtered)
        #expect(room.say("good 1", as: viewer(1)).isAck)
        #expect(room.say("good 2", as: viewer(1)).errorCode == .rateLimited)
        // Refused before the check (empty text), a message costs nothing.
        #expect(room.say("  ", as: viewer(2)).errorCode == .badRequest)
        #expect(room.say("good", as: viewer(2)).isAck)
        #expect(room.say("good again", as: viewer(2)).isAck)
    }

    @Test("rate limits can be switched off")
    func rateLimitDisabled() {
        var room = makeRoom { $0.rateLimits.chat = nil }
        for number in 0..<200 { #expect(room.say("m\(number)", as: viewer(1)).isAck) }
    }

    @Test("token buckets are pure and clamp at their burst")
    func tokenBucket() {
        var bucket = TokenBucket(limit: RateLimit(burst: 2, perSecond: 10), at: t0)
        var taken: [Bool] = []
        for _ in 0..<3 { taken.append(bucket.take(at: t0)) }
        taken.append(bucket.take(at: at(0.1)))
        #expect(taken == [true, true, false, true])
        #expect(bucket.isFull(at: at(100)))
        taken = []
        for _ in 0..<3 { taken.append(bucket.take(at: at(100))) }
        #expect(taken == [true, true, false])
    }

    @Test("a banned user is refused everywhere, their messages are purged, and the ban holds on rejoin")
    func ban() throws {
        var room = makeRoom()
        let messageID = room.say("spam", as: viewer(1)).ackRef ?? ""
        let ban = room.send(.modBan(.init(sub: "user-1")), from: moderator)
        #expect(ban.messages(for: viewer(2)) == [.chatDeleted(.init(messageIDs: [messageID]))])
        #expect(ban.messages(for: viewer(1)).contains(.moderation(.init(action: .ban))))
        #expect(room.say("again", as: viewer(1)).errorCode == .banned)
        #expect(room.send(.reaction(.init(emoji: "🔥")), from: viewer(1)).errorCode == .banned)
        let rejoin = Identity(sub: "user-1", name: "New Name", role: .viewer)
        #expect(throws: InteractionError(.banned, "you are banned from this channel")) { try room.join(rejoin) }
        #expect(room.snapshot(for: viewer(2)).chat.isEmpty)
        #expect(room.send(.modUnban(.init(sub: "user-1")), from: moderator).isAck)
        #expect(room.say("sorry", as: viewer(1)).isAck)
        #expect(room.send(.modUnban(.init(sub: "user-1")), from: moderator).errorCode == .notFound)
    }

    @Test("a timeout refuses chat until it expires")
    func timeout() {
        var room = makeRoom()
        let update = room.send(.modTimeout(.init(sub: "user-1", seconds: 30)), from: moderator)
        #expect(update.messages(for: viewer(1)) == [.moderation(.init(action: .timeout, until: at(30)))])
        #expect(update.messages(for: viewer(2)).isEmpty)
        #expect(room.say("hi", as: viewer(1), at: at(29.999)).errorCode == .timedOut)
        #expect(room.send(.qaAsk(.init(text: "q?")), from: viewer(1), at: at(10)).errorCode == .timedOut)
        #expect(room.say("hi", as: viewer(1), at: at(30)).isAck)
        #expect(room.send(.modTimeout(.init(sub: "user-1", seconds: 0)), from: moderator).errorCode == .badRequest)
    }

    @Test("a shadow-banned user sees their own messages; nobody else does")
    func shadowBan() {
        var room = makeRoom()
        let update = room.send(.modShadowBan(.init(sub: "user-1")), from: moderator)
        #expect(update.broadcasts.isEmpty)
        let message = room.say("buy followers", as: viewer(1))
        #expect(message.isAck)
        #expect(message.broadcasts.map(\.audience) == [.only("user-1")])
        #expect(message.messages(for: viewer(2)).isEmpty)
        #expect(message.messages(for: moderator).isEmpty)
        #expect(room.snapshot(for: viewer(1)).chat.map(\.text) == ["buy followers"])
        #expect(room.snapshot(for: viewer(2)).chat.isEmpty)
        room.send(.modShadowBan(.init(sub: "user-1", enabled: false)), from: moderator)
        #expect(room.say("hello", as: viewer(1)).broadcasts.map(\.audience) == [.everyone])
    }

    @Test("viewers delete their own messages; moderators delete anyone's")
    func delete() {
        var room = makeRoom()
        let mine = room.say("oops", as: viewer(1)).ackRef ?? ""
        let theirs = room.say("rude", as: viewer(2)).ackRef ?? ""
        #expect(room.send(.chatDelete(.init(messageID: theirs)), from: viewer(1)).errorCode == .forbidden)
        let deleted = room.send(.chatDelete(.init(messageID: mine)), from: viewer(1))
        #expect(deleted.messages(for: viewer(3)) == [.chatDeleted(.init(messageIDs: [mine]))])
        #expect(room.send(.chatDelete(.init(messageID: theirs)), from: moderator).isAck)
        #expect(room.send(.chatDelete(.init(messageID: theirs)), from: moderator).errorCode == .notFound)
        #expect(room.snapshot(for: viewer(3)).chat.isEmpty)
    }

    @Test("history keeps the last 500 messages; the snapshot the last 50")
    func history() {
        var room = makeRoom()
        for number in 0..<600 { room.say("message \(number)", as: viewer(number % 7), at: at(Double(number))) }
        #expect(room.chat.history.count == 500)
        #expect(room.chat.history.first?.message.text == "message 100")
        let snapshot = room.snapshot(for: viewer(1)).chat
        #expect(snapshot.count == 50)
        #expect(snapshot.last?.text == "message 599")
    }
}
