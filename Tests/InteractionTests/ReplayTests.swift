import Foundation
import Testing
import Interaction

/// Drives a room and keeps every record it asks to persist, like the server's store would.
struct RecordingRoom {
    var room: Room
    var records: [Record] = []

    @discardableResult
    mutating func send(_ message: ClientMessage, from identity: Identity, at now: Timestamp,
                       context: RequestTiming = RequestTiming()) -> RoomUpdate {
        let update = room.send(message, from: identity, at: now, context: context)
        records += update.records
        return update
    }

    mutating func tick(at now: Timestamp) {
        records += room.tick(at: now).records
    }
}

@Suite("Replay")
struct ReplayTests {
    static func scenario() -> RecordingRoom {
        var configuration = RoomConfiguration()
        configuration.rateLimits = .disabled
        configuration.questionsNeedApproval = true
        var log = RecordingRoom(room: Room(configuration: configuration, startingSeq: 0))
        // Chat and moderation.
        for number in 0..<30 { log.send(.chatSend(.init(text: "hello \(number)")), from: viewer(number % 5), at: at(Double(number))) }
        log.send(.modBan(.init(sub: "user-4")), from: moderator, at: at(31))
        log.send(.modShadowBan(.init(sub: "user-3")), from: moderator, at: at(32))
        log.send(.modTimeout(.init(sub: "user-2", seconds: 3_600)), from: moderator, at: at(33))
        log.send(.chatSlowMode(.init(seconds: 7)), from: moderator, at: at(34))
        log.send(.chatFilter(.init(words: ["darn"])), from: moderator, at: at(35))
        log.send(.chatSend(.init(text: "shadow words")), from: viewer(3), at: at(36))
        // A windowed poll that closes by itself, and a manual one that is revealed.
        let windowed = log.send(.pollCreate(.init(question: "W?", options: ["a", "b", "c"], windowSeconds: 30)),
                                from: host, at: at(40)).ackRef ?? ""
        log.send(.pollLaunch(.init(pollID: windowed)), from: host, at: at(40))
        let manual = log.send(.pollCreate(.init(question: "M?", options: ["x", "y"], multipleChoice: true, allowChanges: true)),
                              from: host, at: at(40)).ackRef ?? ""
        log.send(.pollLaunch(.init(pollID: manual)), from: host, at: at(40))
        for number in 0..<500 {
            log.send(.pollVote(.init(pollID: windowed, choices: [number % 3])), from: viewer(100 + number), at: at(41))
            log.send(.pollVote(.init(pollID: manual, choices: number % 2 == 0 ? [0, 1] : [1])), from: viewer(100 + number), at: at(41))
        }
        for number in 0..<50 {
            log.send(.pollVote(.init(pollID: manual, choices: [0])), from: viewer(100 + number), at: at(42))
        }
        log.tick(at: at(71))
        log.send(.pollReveal(.init(pollID: manual)), from: host, at: at(72))
        // A quiz with two questions.
        let quizID = log.send(.quizCreate(quizDraft(questions: 3)), from: host, at: at(80)).ackRef ?? ""
        log.send(.quizNext(.init(quizID: quizID)), from: host, at: at(80))
        for number in 0..<40 {
            log.send(.quizAnswer(.init(quizID: quizID, question: 0, choices: [number % 3 == 0 ? 0 : 1],
                                       displayLatencyMs: number * 50)),
                     from: viewer(200 + number), at: at(80 + Double(number) * 0.2), context: RequestTiming(maxDisplayLatency: .seconds(1)))
        }
        log.tick(at: at(100))
        log.send(.quizReveal(.init(quizID: quizID)), from: host, at: at(101))
        log.send(.quizNext(.init(quizID: quizID)), from: host, at: at(102))
        for number in 0..<40 {
            log.send(.quizAnswer(.init(quizID: quizID, question: 1, choices: [1])), from: viewer(200 + number),
                     at: at(102 + Double(number) * 0.1))
        }
        log.send(.quizReveal(.init(quizID: quizID)), from: host, at: at(110))
        // Q&A, gifts and offers.
        let first = log.send(.qaAsk(.init(text: "first?")), from: viewer(1), at: at(120)).ackRef ?? ""
        let second = log.send(.qaAsk(.init(text: "second?")), from: viewer(3), at: at(121)).ackRef ?? ""
        log.send(.qaModerate(.approve, .init(questionID: first)), from: moderator, at: at(122))
        log.send(.qaModerate(.approve, .init(questionID: second)), from: moderator, at: at(122))
        log.send(.qaModerate(.pin, .init(questionID: second)), from: moderator, at: at(123))
        for number in 0..<10 { log.send(.qaUpvote(.init(questionID: first)), from: viewer(number + 10), at: at(124)) }
        log.send(.giftSend(.init(giftID: "rocket", count: 2)), from: viewer(7), at: at(130))
        log.send(.giftSend(.init(giftID: "rose", count: 5)), from: viewer(8), at: at(131))
        log.send(.offerShow(.init(offer: mug)), from: host, at: at(140))
        for number in 0..<7 { log.send(.offerClick(.init(offerID: "mug")), from: viewer(number % 4), at: at(141)) }
        return log
    }

    @Test("replaying the persisted records rebuilds the same tallies, scores, bans, chat, questions and boards")
    func replay() throws {
        let log = Self.scenario()
        let original = log.room
        // Through JSON, as the store keeps them.
        let data = try JSONEncoder().encode(log.records)
        let stored = try JSONDecoder().decode([Record].self, from: data)
        #expect(stored == log.records)
        let (restored, skipped) = Room.restore(configuration: original.configuration, records: stored, startingSeq: 1_000_000)
        #expect(skipped == 0)
        #expect(restored.pollsInOrder == original.pollsInOrder)
        #expect(original.pollsInOrder.map(\.tally.ballots) == [500, 500])
        #expect(original.pollsInOrder.map(\.phase) == [.closed, .revealed])
        #expect(original.quizzesInOrder.first?.leaderboard.count == 40)
        for quizID in original.quizzesInOrder.map(\.quizID) {
            #expect(restored.quiz(withID: quizID)?.leaderboard.ranked() == original.quiz(withID: quizID)?.leaderboard.ranked())
            #expect(restored.quiz(withID: quizID)?.phase == original.quiz(withID: quizID)?.phase)
        }
        #expect(restored.moderation == original.moderation)
        #expect(restored.isBanned("user-4"))
        #expect(restored.chat.history == original.chat.history)
        #expect(restored.chat.slowModeSeconds == 7)
        #expect(restored.chat.filter.words == ["darn"])
        #expect(restored.qanda.ordered(includePending: true) == original.qanda.ordered(includePending: true))
        #expect(restored.gifts.topSupporters(10) == original.gifts.topSupporters(10))
        #expect(restored.offers == original.offers)
        #expect(restored.snapshot(for: viewer(9)).questions == original.snapshot(for: viewer(9)).questions)
    }

    @Test("a restored room carries on exactly like the original: streaks, ids and bans")
    func carriesOn() {
        var log = Self.scenario()
        var restored = Room.restore(configuration: log.room.configuration, records: log.records, startingSeq: 1_000_000).room
        let quizID = log.room.quizzesInOrder.last?.quizID ?? ""
        for room in [0, 1] {
            var target = room == 0 ? log.room : restored
            target.send(.quizNext(.init(quizID: quizID)), from: host, at: at(200))
            target.send(.quizAnswer(.init(quizID: quizID, question: 2, choices: [1])), from: viewer(201), at: at(200.2))
            if room == 0 { log.room = target } else { restored = target }
        }
        #expect(restored.quiz(withID: quizID)?.leaderboard.ranked() == log.room.quiz(withID: quizID)?.leaderboard.ranked())
        let newQuestion = restored.send(.qaAsk(.init(text: "new?")), from: viewer(5), at: at(300)).ackRef ?? ""
        let existing = Set(log.room.qanda.all.map(\.questionID))
        #expect(!existing.contains(newQuestion))
        #expect(restored.send(.chatSend(.init(text: "back")), from: viewer(4), at: at(300)).errorCode == .banned)
        #expect(restored.send(.chatSend(.init(text: "still")), from: viewer(2), at: at(300)).errorCode == .timedOut)
    }

    @Test("records that do not fit the state are skipped and counted")
    func inconsistentLog() {
        let records: [Record] = [
            .vote(pollID: "p1", sub: "u", choices: Choices(index: 0) ?? [], at: t0),
            .pollCreated(definition: PollDefinition(pollID: "p1", question: "Q", options: ["a", "b"]), by: "h", at: t0),
            .pollLaunched(pollID: "p1", at: t0),
            .vote(pollID: "p1", sub: "u", choices: Choices(index: 0) ?? [], at: t0),
            .vote(pollID: "p1", sub: "u", choices: Choices(index: 1) ?? [], at: t0),
        ]
        let (room, skipped) = Room.restore(records: records, startingSeq: 0)
        #expect(skipped == 2)
        #expect(room.poll(withID: "p1")?.tally.counts == [1, 0])
    }
}
