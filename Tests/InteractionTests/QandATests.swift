import Testing
import Interaction

extension Room {
    mutating func ask(_ text: String, as identity: Identity, at now: Timestamp = t0) -> String {
        send(.qaAsk(.init(text: text)), from: identity, at: now).ackRef ?? "missing"
    }
}

@Suite("Q&A")
struct QandATests {
    @Test("questions are ordered pinned first, then by votes, then oldest first")
    func ordering() {
        var room = makeRoom()
        let first = room.ask("first", as: viewer(1), at: at(1))
        let second = room.ask("second", as: viewer(2), at: at(2))
        let third = room.ask("third", as: viewer(3), at: at(3))
        let fourth = room.ask("fourth", as: viewer(4), at: at(4))
        for voter in 10..<13 { room.send(.qaUpvote(.init(questionID: third)), from: viewer(voter)) }
        room.send(.qaUpvote(.init(questionID: second)), from: viewer(10))
        #expect(room.send(.qaModerate(.pin, .init(questionID: fourth)), from: moderator).isAck)
        #expect(room.snapshot(for: viewer(9)).questions.map(\.questionID) == [fourth, third, second, first])
    }

    @Test("a user upvotes a question once")
    func upvoteOnce() {
        var room = makeRoom()
        let question = room.ask("why?", as: viewer(1))
        #expect(room.send(.qaUpvote(.init(questionID: question)), from: viewer(2)).isAck)
        #expect(room.send(.qaUpvote(.init(questionID: question)), from: viewer(2)).errorCode == .alreadyVoted)
        #expect(room.send(.qaUpvote(.init(questionID: "q999")), from: viewer(2)).errorCode == .notFound)
        #expect(room.question(withID: question)?.votes == 1)
    }

    @Test("upvotes are aggregated into one qa.votes message per tick")
    func votesPerTick() {
        var room = makeRoom()
        let question = room.ask("why?", as: viewer(1))
        for voter in 2..<50 {
            #expect(room.send(.qaUpvote(.init(questionID: question)), from: viewer(voter)).broadcasts.isEmpty)
        }
        let tick = room.tick(at: at(0.1))
        #expect(tick.messages(for: viewer(1)) == [.questionVotes(.init(votes: [question: 48]))])
        #expect(room.tick(at: at(0.2)).broadcasts.isEmpty)
    }

    @Test("with a moderation queue, questions are public only after approval")
    func moderationQueue() {
        var room = makeRoom { $0.questionsNeedApproval = true }
        let asked = room.send(.qaAsk(.init(text: "is this live?")), from: viewer(1))
        let question = asked.ackRef ?? ""
        #expect(asked.broadcasts.map(\.audience) == [.staffAnd("user-1")])
        #expect(room.snapshot(for: viewer(2)).questions.isEmpty)
        #expect(room.snapshot(for: viewer(1)).questions.map(\.status) == [.pending])
        #expect(room.snapshot(for: moderator).questions.map(\.questionID) == [question])
        #expect(room.send(.qaUpvote(.init(questionID: question)), from: viewer(2)).errorCode == .notFound)
        let approve = room.send(.qaModerate(.approve, .init(questionID: question)), from: moderator)
        #expect(approve.broadcasts.map(\.audience) == [.everyone])
        #expect(room.snapshot(for: viewer(2)).questions.map(\.status) == [.open])
        let staffQuestion = room.send(.qaAsk(.init(text: "host note")), from: host)
        #expect(staffQuestion.broadcasts.map(\.audience) == [.everyone])
    }

    @Test("answered questions stay visible; rejected and archived ones disappear", arguments: [
        (QandA.Action.answer, true), (.reject, false), (.archive, false),
    ])
    func statuses(action: QandA.Action, visible: Bool) {
        var room = makeRoom()
        let question = room.ask("q", as: viewer(1))
        #expect(room.send(.qaModerate(action, .init(questionID: question)), from: moderator).isAck)
        #expect(room.snapshot(for: viewer(2)).questions.isEmpty == !visible)
    }

    @Test("moderation out of order is invalid_state")
    func invalidTransitions() {
        var room = makeRoom()
        let question = room.ask("q", as: viewer(1))
        #expect(room.send(.qaModerate(.approve, .init(questionID: question)), from: moderator).errorCode == .invalidState)
        room.send(.qaModerate(.reject, .init(questionID: question)), from: moderator)
        #expect(room.send(.qaModerate(.pin, .init(questionID: question)), from: moderator).errorCode == .invalidState)
        #expect(room.send(.qaModerate(.answer, .init(questionID: "q404")), from: moderator).errorCode == .notFound)
    }

    @Test("questions longer than the limit are too_large")
    func tooLong() {
        var room = makeRoom { $0.maxQuestionLength = 20 }
        #expect(room.send(.qaAsk(.init(text: String(repeating: "?", count: 21))), from: viewer(1)).errorCode == .tooLarge)
    }
}
