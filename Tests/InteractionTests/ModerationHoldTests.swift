import Foundation
import Testing
@testable import Interaction

/// Issue #10, point 7: one admission rule for every path (the room and the ballot boxes), holds that reach every
/// action, and holds judged against the role a token presents — so no moderator can lock out a host or the admin key,
/// before or after a restart.
@Suite("Moderation holds")
struct ModerationHoldTests {
    /// A room with a live poll and a quiz question open, and a ballot box that got the room's rules and admission.
    func stage() -> (Room, BallotBox, pollID: String) {
        var room = makeRoom { $0.allowsAnonymous = true }
        let pollID = room.launchPoll()
        let quiz = QuizDefinition.Question(prompt: "2+2?", options: ["3", "4"], correct: Choices(indices: [1]) ?? Choices(),
                                           windowSeconds: 30)
        let quizID = room.send(.quizCreate(.init(title: "Q", questions: [quiz])), from: host).ackRef ?? "missing"
        room.send(.quizNext(.init(quizID: quizID)), from: host)
        var box = BallotBox(rateLimit: nil, admission: room.admission)
        box.update(room.pollRules)
        return (room, box, pollID)
    }

    func boxCode(_ box: inout BallotBox, _ pollID: String, _ identity: Identity, at time: Timestamp = t0) -> ErrorCode? {
        do {
            _ = try box.vote(.init(pollID: pollID, choices: [0]), from: identity, at: time)
            return nil
        } catch { return error.code }
    }

    @Test("a banned viewer's vote is refused by the ballot box exactly as by the room, and so is every other action")
    func banRefusesEverything() {
        var (room, box, pollID) = stage()
        #expect(room.send(.modBan(.init(sub: viewer(1).sub)), from: moderator).isAck)
        box.update(room.admission)
        #expect(boxCode(&box, pollID, viewer(1)) == .banned)
        #expect(room.vote(pollID, [0], by: viewer(1)).errorCode == .banned)
        #expect(room.send(.reaction(.init(emoji: "🔥")), from: viewer(1)).errorCode == .banned)
        #expect(room.send(.qaAsk(.init(text: "hi?")), from: viewer(1)).errorCode == .banned)
        #expect(room.send(.quizAnswer(.init(quizID: "z2", question: 0, choices: [1])), from: viewer(1)).errorCode == .banned)
        #expect(room.send(.quizAnswer(.init(quizID: "z2", question: 0, choices: [1])), from: viewer(2)).isAck)
        #expect(throws: InteractionError.self) { try room.join(viewer(1)) }
        // Someone else still votes.
        #expect(boxCode(&box, pollID, viewer(2)) == nil)
        // The box only learns of the ban through the room's admission: one rule, handed over.
        var stale = BallotBox(rateLimit: nil)
        stale.update(room.pollRules)
        stale.update(room.admission)
        #expect(boxCode(&stale, pollID, viewer(1)) == .banned)
    }

    @Test("a timed-out viewer's vote, answer, reaction and chat get timed_out until the timeout ends; they may still connect")
    func timeoutRefusesEverything() throws {
        var (room, box, pollID) = stage()
        #expect(room.send(.modTimeout(.init(sub: viewer(1).sub, seconds: 10)), from: moderator).isAck)
        box.update(room.admission)
        #expect(boxCode(&box, pollID, viewer(1)) == .timedOut)
        #expect(room.vote(pollID, [0], by: viewer(1)).errorCode == .timedOut)
        #expect(room.send(.reaction(.init(emoji: "🔥")), from: viewer(1)).errorCode == .timedOut)
        #expect(room.say("hello", as: viewer(1)).errorCode == .timedOut)
        try room.join(viewer(1))
        #expect(boxCode(&box, pollID, viewer(1), at: at(10)) == nil, "the timeout has ended")
    }

    @Test("a moderator's ban of a host's sub, placed where the room never saw that host (after a restart), never holds the host")
    func holdsFollowTheTokenRole() throws {
        var room = makeRoom()
        var log: [Record] = []
        let stranger = Identity(sub: "host-2", name: "New host", role: .host)
        // The room has not seen this host: the ban is recorded, with the moderator's role…
        #expect(send(&room, &log, .modBan(.init(sub: stranger.sub)), from: moderator).isAck)
        #expect(send(&room, &log, .modTimeout(.init(sub: "mod-9", seconds: 60)), from: moderator).isAck)
        guard case .moderation(_, _, _, let role)? = log.first else { Issue.record("not a moderation record"); return }
        #expect(role == .moderator)
        // …and after a restart, the host and the other moderator act as before: the hold reaches only lower roles.
        var restored = Room.restore(configuration: room.configuration, records: log, startingSeq: 0).room
        #expect(restored.isBanned(stranger.sub))
        try restored.join(stranger)
        let poll = restored.send(.pollCreate(.init(question: "Still here?", options: ["y", "n"])), from: stranger)
        #expect(poll.isAck)
        restored.send(.pollLaunch(.init(pollID: poll.ackRef ?? "")), from: stranger)
        #expect(restored.send(.chatSend(.init(text: "hi")), from: Identity(sub: "mod-9", name: "M", role: .moderator)).isAck)
        #expect(restored.say("hi", as: Identity(sub: stranger.sub, name: "Imposter", role: .viewer)).errorCode == .banned,
                "a viewer token for that sub is held")
        var box = BallotBox(rateLimit: nil, admission: restored.admission)
        box.update(restored.pollRules)
        #expect(boxCode(&box, poll.ackRef ?? "", stranger) == nil, "the host's vote is counted, not refused as banned")
        #expect(boxCode(&box, poll.ackRef ?? "", Identity(sub: stranger.sub, name: "Imposter", role: .viewer)) == .banned)
    }

    @Test("a moderator can never act on the admin key's sub, nor on a host the records know, even right after a restart")
    func knownStaffAreProtected() throws {
        var room = makeRoom()
        var log: [Record] = []
        #expect(send(&room, &log, .modBan(.init(sub: Identity.administratorSub)), from: moderator).errorCode == .forbidden)
        #expect(send(&room, &log, .modTimeout(.init(sub: Identity.administratorSub, seconds: 5)), from: moderator).errorCode == .forbidden)
        // The host acts: its role is in the records.
        #expect(send(&room, &log, .pollCreate(.init(question: "Q?", options: ["a", "b"])), from: host).isAck)
        var restored = Room.restore(configuration: room.configuration, records: log, startingSeq: 0).room
        #expect(restored.send(.modBan(.init(sub: host.sub)), from: moderator).errorCode == .forbidden)
        #expect(restored.send(.modShadowBan(.init(sub: host.sub, enabled: true)), from: moderator).errorCode == .forbidden)
        #expect(restored.send(.modBan(.init(sub: moderator.sub)), from: host).isAck, "a host may still ban a moderator")
        #expect(restored.say("hello", as: moderator).errorCode == .banned)
    }

    @Test("moderation records written before roles were recorded still decode, and count as a moderator's")
    func legacyRecords() throws {
        let json = #"{"moderation":{"action":{"ban":{"sub":"old-host"}},"by":"mod-1","at":1700000000000}}"#
        let record = try JSONDecoder().decode(Record.self, from: Data(json.utf8))
        var room = Room.restore(configuration: makeRoom().configuration, records: [record], startingSeq: 0).room
        #expect(room.isBanned("old-host"))
        #expect(room.say("hi", as: Identity(sub: "old-host", name: "H", role: .host)).isAck)
        #expect(room.say("hi", as: Identity(sub: "old-host", name: "V", role: .viewer)).errorCode == .banned)
    }

    @Test("refused requests use their rate-limit token as documented: a disallowed reaction, a vote on a closed poll")
    func refusalsUseTokens() {
        var room = makeRoom {
            $0.rateLimits.reactions = RateLimit(burst: 1, perSecond: 0.001)
            $0.rateLimits.votes = RateLimit(burst: 1, perSecond: 0.001)
        }
        #expect(room.send(.reaction(.init(emoji: "🦄")), from: viewer(1)).errorCode == .reactionNotAllowed)
        #expect(room.send(.reaction(.init(emoji: "🔥")), from: viewer(1)).errorCode == .rateLimited)
        let pollID = room.launchPoll()
        room.send(.pollClose(.init(pollID: pollID)), from: host)
        #expect(room.vote(pollID, [0], by: viewer(1)).errorCode == .pollClosed)
        #expect(room.vote(pollID, [0], by: viewer(1)).errorCode == .rateLimited)
    }

    /// Sends a request and keeps its records, as the server's log would.
    @discardableResult
    func send(_ room: inout Room, _ log: inout [Record], _ message: ClientMessage, from identity: Identity) -> RoomUpdate {
        let update = room.send(message, from: identity)
        log += update.records
        return update
    }
}
