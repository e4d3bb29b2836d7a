import Foundation
import Testing
import Interaction

let everyClientMessage: [ClientMessage] = [
    .ping(.init(clientTime: t0)),
    .ping(.init()),
    .sync(.init(latencyMs: 480, rttMs: 12, path: "ws")),
    .reaction(.init(emoji: "🔥")),
    .quizAnswer(.init(quizID: "z1", question: 2, choices: [1], shownAt: t0, displayLatencyMs: 350)),
] + viewerMessages + staffOnlyMessages + [
    .pollCreate(.init(question: "Best?", options: ["a", "b", "c"], multipleChoice: true, windowSeconds: 30, allowChanges: true)),
    .quizCreate(quizDraft(questions: 2)),
    .quizCreate(.init(title: "Sponsored", questions: quizDraft(questions: 1).questions, sponsor: acme)),
    .sponsorClick(.init(.quiz("z1"))),
]

let sampleSnapshot: RoomSnapshot = {
    var room = makeRoom()
    let pollID = room.launchPoll()
    room.vote(pollID, [1], by: viewer(1))
    room.say("hi", as: viewer(1))
    _ = room.startQuiz()
    return room.snapshot(for: host)
}()

let everyServerMessage: [ServerMessage] = [
    .hello(.init(serverTime: t0, you: viewer(1), currentSeq: 42, recovered: false, snapshot: sampleSnapshot)),
    .hello(.init(serverTime: t0, you: guest, currentSeq: 42, recovered: true, snapshot: nil)),
    .ack(.init(ref: "p1")),
    .ack(.init()),
    .error(.init(code: .pollClosed, message: "poll p1 is not taking ballots")),
    .pong(.init(serverTime: t0, clientTime: at(-0.2))),
    .chat(ChatMessage(messageID: "m1", sub: "user-1", name: "User 1", role: .viewer, text: "hi \"there\" / ü", at: t0)),
    .chatDeleted(.init(messageIDs: ["m1", "m2"])),
    .chatSettings(.init(slowModeSeconds: 5)),
    .reactions(.init(counts: ["🔥": 3, "❤️": 1])),
    .poll(sampleSnapshot.polls[0]),
    .tally(.init(pollID: "p1", counts: [1, 2], ballots: 3)),
    .results(.init(pollID: "p1", counts: [1, 2], ballots: 3)),
    .quiz(sampleSnapshot.quiz ?? QuizView(Quiz(definition: QuizDefinition(quizID: "z", title: "t", questions: [])))),
    .leaderboard(.init(quizID: "z1", top: [Standing(sub: "a", name: "A", score: 1000, rank: 1, correctAnswers: 1)], players: 3)),
    .standing(Standing(sub: "b", name: "B", score: 500, rank: 2, correctAnswers: 1)),
    .question(Question(questionID: "q1", sub: "u", name: "U", text: "why?", askedAt: t0, votes: 3, status: .open, pinned: true)),
    .questionVotes(.init(votes: ["q1": 4])),
    .gift(GiftEvent(giftEventID: "g1", sub: "u", name: "U", giftID: "rose", giftName: "Rose", icon: "🌹", value: 1,
                    count: 2, text: "U sent 2 × Rose 🌹", at: t0)),
    .supporters(.init(top: [Supporter(sub: "u", name: "U", total: 10, gifts: 2)])),
    .offer(mug),
    .offerHidden(.init(offerID: "mug")),
    .offerClicks(.init(offerID: "mug", clicks: 5, uniqueClicks: 2)),
    .sponsorClicks(.init(interaction: .poll("p1"), sponsor: "Acme", clicks: 5, uniqueClicks: 2)),
    .sponsorClicks(.init(interaction: .quiz("z1"), sponsor: "Acme", clicks: 1, uniqueClicks: 1)),
    .viewers(.init(count: 1234)),
    .moderation(.init(action: .timeout, until: at(60))),
    .goaway(.init(reconnectWithinMs: 2000)),
]

@Suite("Wire protocol")
struct ProtocolTests {
    @Test("the samples cover every client and server message type")
    func coverage() {
        #expect(Set(everyClientMessage.map(\.kind)) == Set(ClientMessage.Kind.allCases))
        #expect(Set(everyServerMessage.map(\.kind)) == Set(ServerMessage.Kind.allCases))
    }

    @Test("every client message survives a JSON round trip", arguments: everyClientMessage)
    func clientRoundTrip(message: ClientMessage) throws {
        let request = ClientRequest(id: "r-1", message)
        let data = try request.jsonData()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["v"] as? Int == 1)
        #expect(object["type"] as? String == message.kind.rawValue)
        #expect(object["id"] as? String == "r-1")
        #expect(try ClientRequest.decode(data).get() == request)
    }

    @Test("every server message survives a JSON round trip", arguments: everyServerMessage)
    func serverRoundTrip(message: ServerMessage) throws {
        let envelope = ServerEnvelope(id: "r-2", seq: 9_007_199_254_740_000, message)
        let data = try envelope.jsonData()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["type"] as? String == message.kind.rawValue)
        #expect(object["v"] as? Int == 1)
        #expect(try ServerEnvelope.decode(data) == envelope)
    }

    @Test("the envelope is flat: payload fields sit beside v, type and id")
    func flatEnvelope() throws {
        let text = #"{"v":1,"type":"poll.vote","id":"r7","pollID":"p1","choices":[0,2]}"#
        let request = try ClientRequest.decode(text).get()
        #expect(request == ClientRequest(id: "r7", .pollVote(.init(pollID: "p1", choices: [0, 2]))))
        let ack = try ServerEnvelope(id: "r7", .ack(.init(ref: "m3"))).jsonData()
        let object = try #require(try JSONSerialization.jsonObject(with: ack) as? [String: Any])
        #expect(object.keys.sorted() == ["id", "ref", "type", "v"])
        let error = try ServerEnvelope(id: "r8", .error(.init(code: .rateLimited, message: "slow down"))).jsonData()
        let errorObject = try #require(try JSONSerialization.jsonObject(with: error) as? [String: Any])
        #expect(errorObject["code"] as? String == "rate_limited")
    }

    @Test("bad frames are refused with the right code, keeping the request id when there is one", arguments: [
        ("not json", ErrorCode.badRequest, nil),
        ("[1, 2]", .badRequest, nil),
        (#"{"v":1,"id":"a"}"#, .badRequest, "a"),
        (#"{"v":1,"type":7,"id":"b"}"#, .badRequest, "b"),
        (#"{"v":1,"type":"poll.explode","id":"c"}"#, .unknownType, "c"),
        (#"{"v":2,"type":"ping","id":"d"}"#, .unsupportedVersion, "d"),
        (#"{"v":1,"type":"poll.vote","id":"e","pollID":"p1"}"#, .badRequest, "e"),
        (#"{"v":1,"type":"chat.send","id":"f","text":42}"#, .badRequest, "f"),
        (#"{"v":1,"type":"quiz.create","id":"g","title":"t","questions":[{"prompt":"p","options":["a","b"],"correct":[99],"windowSeconds":5}]}"#, .badRequest, "g"),
        (#"{"v":1,"type":"mod.timeout","id":"h","sub":"u","seconds":"ten"}"#, .badRequest, "h"),
    ] as [(String, ErrorCode, String?)])
    func malformed(text: String, code: ErrorCode, id: String?) {
        let result = ClientRequest.decode(text)
        guard case .failure(let rejection) = result else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(rejection.error.code == code)
        #expect(rejection.id == id)
        #expect(rejection.reply == ServerEnvelope(id: id, .error(.init(rejection.error))))
    }

    @Test("frames over the size limit are too_large")
    func tooLarge() {
        let text = #"{"v":1,"type":"chat.send","text":""# + String(repeating: "x", count: 20_000) + #""}"#
        guard case .failure(let rejection) = ClientRequest.decode(text) else {
            Issue.record("accepted an oversized frame")
            return
        }
        #expect(rejection.error.code == .tooLarge)
        #expect((try? ClientRequest.decode(text, maxBytes: 64 * 1024).get()) != nil)
    }

    @Test("the version may be omitted, and a non-string id is ignored")
    func lenientHeader() throws {
        #expect(try ClientRequest.decode(#"{"type":"ping"}"#).get() == ClientRequest(.ping(.init())))
        #expect(try ClientRequest.decode(#"{"type":"ping","id":5}"#).get().id == nil)
    }

    @Test("error codes keep their wire names")
    func errorCodes() {
        let names = Set(ErrorCode.allCases.map(\.rawValue))
        for name in ["bad_request", "unknown_type", "forbidden", "rate_limited", "poll_closed", "unknown_option",
                     "already_voted", "too_large", "banned", "timed_out", "not_found", "slow_mode", "filtered"] {
            #expect(names.contains(name))
        }
    }

    @Test("a refused request leaves the room unchanged")
    func refusalChangesNothing() {
        var room = makeRoom()
        let pollID = room.launchPoll()
        room.vote(pollID, [0], by: viewer(1))
        let before = room.seq
        let snapshot = room.snapshot(for: host)
        for message in [ClientMessage.pollVote(.init(pollID: pollID, choices: [5])), .pollVote(.init(pollID: pollID, choices: [1])),
                        .pollLaunch(.init(pollID: pollID))] {
            let update = room.send(message, from: viewer(1))
            #expect(update.errorCode != nil && update.records.isEmpty && update.broadcasts.isEmpty)
        }
        #expect(room.seq == before)
        #expect(room.snapshot(for: host) == snapshot)
    }

    @Test("timestamps are Unix milliseconds on the wire")
    func timestamps() throws {
        let data = try JSONEncoder().encode(Timestamp(unixMilliseconds: 1_700_000_000_123))
        #expect(String(decoding: data, as: UTF8.self) == "1700000000123")
        let date = Date(timeIntervalSince1970: 1_700_000_000.5)
        #expect(Timestamp(date).unixMilliseconds == 1_700_000_000_500)
        #expect(Timestamp(date).date == date)
    }
}
