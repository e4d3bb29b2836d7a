import Foundation
import Testing
@testable import Interaction

let acme = Sponsor(name: "Acme", logoURL: "https://acme.example/logo.png", link: "https://acme.example")

/// Sponsored polls and quizzes: the sponsor on the card, and clicks on it counted and attributed like an offer's.
@Suite("Sponsors")
struct SponsorTests {
    /// A room with a launched poll sponsored by Acme and a quiz sponsored by Acme asking its first question.
    static func sponsoredRoom() -> (room: Room, pollID: String, quizID: String) {
        var room = makeRoom()
        let pollID = room.send(.pollCreate(.init(question: "Q", options: ["a", "b"], sponsor: acme)), from: host).ackRef ?? ""
        room.send(.pollLaunch(.init(pollID: pollID)), from: host)
        var draft = quizDraft(questions: 2)
        draft.sponsor = acme
        let quizID = room.send(.quizCreate(draft), from: host).ackRef ?? ""
        room.send(.quizNext(.init(quizID: quizID)), from: host)
        return (room, pollID, quizID)
    }

    @Test("a sponsored quiz shows its sponsor to viewers; a bad sponsor is refused and creates nothing")
    func sponsoredQuiz() {
        var room = makeRoom()
        var draft = quizDraft(questions: 1)
        draft.sponsor = acme
        let quizID = room.send(.quizCreate(draft), from: host).ackRef ?? ""
        let next = room.send(.quizNext(.init(quizID: quizID)), from: host)
        let views = only(next.messages(for: viewer(1))) { if case .quiz(let view) = $0 { view } else { nil } }
        #expect(views.map(\.sponsor) == [acme])
        #expect(room.snapshot(for: viewer(2)).quiz?.sponsor == acme)
        for bad in [Sponsor(name: "", link: "https://acme.example"), Sponsor(name: "Acme", link: "ftp://acme.example"),
                    Sponsor(name: String(repeating: "a", count: 81), link: "https://acme.example"),
                    Sponsor(name: "Acme", logoURL: "javascript:alert(1)", link: "https://acme.example")] {
            var refused = quizDraft(questions: 1)
            refused.sponsor = bad
            #expect(room.send(.quizCreate(refused), from: host).errorCode == .badRequest)
        }
        #expect(room.quizzesInOrder.count == 1)
    }

    @Test("sponsor clicks count in total and once per user, reach staff on the tick, and are attributed records")
    func clicksCounted() {
        let setup = Self.sponsoredRoom()
        var room = setup.room
        let (pollID, quizID) = (setup.pollID, setup.quizID)
        let first = room.send(.sponsorClick(.init(.poll(pollID), mediaTime: 42.5)), from: viewer(1), at: at(1))
        #expect(first.isAck)
        #expect(first.records == [.sponsorClicked(interaction: .poll(pollID), sub: viewer(1).sub, at: at(1), mediaTime: 42.5)])
        #expect(first.broadcasts.isEmpty, "nothing goes out before the tick")
        for _ in 0..<2 { #expect(room.send(.sponsorClick(.init(.poll(pollID))), from: viewer(1), at: at(1)).isAck) }
        #expect(room.send(.sponsorClick(.init(.poll(pollID))), from: viewer(2), at: at(1)).isAck)
        #expect(room.send(.sponsorClick(.init(.quiz(quizID))), from: viewer(3), at: at(1)).isAck)
        let tick = room.tick(at: at(1.1))
        let counts = { (update: RoomUpdate) in
            only(update.messages(for: host)) { if case .sponsorClicks = $0 { $0 } else { nil } }
        }
        #expect(counts(tick) == [
            .sponsorClicks(.init(interaction: .poll(pollID), sponsor: "Acme", clicks: 4, uniqueClicks: 2)),
            .sponsorClicks(.init(interaction: .quiz(quizID), sponsor: "Acme", clicks: 1, uniqueClicks: 1)),
        ])
        #expect(tick.messages(for: viewer(1)).isEmpty, "counts are for staff")
        #expect(counts(room.tick(at: at(1.2))).isEmpty, "sent once per change")
        #expect(room.snapshot(for: host).sponsorClicks == [
            .init(interaction: .poll(pollID), sponsor: "Acme", clicks: 4, uniqueClicks: 2),
            .init(interaction: .quiz(quizID), sponsor: "Acme", clicks: 1, uniqueClicks: 1),
        ])
        #expect(room.snapshot(for: viewer(1)).sponsorClicks == nil)
        // A closed, then revealed, poll is still on the card: its sponsor still counts.
        room.send(.pollReveal(.init(pollID: pollID)), from: host, at: at(2))
        #expect(room.send(.sponsorClick(.init(.poll(pollID))), from: viewer(4), at: at(2)).isAck)
        #expect(room.sponsorClicks.entry(.poll(pollID))?.clicks == 5)
    }

    @Test("a guest's sponsor click is refused and counts nothing")
    func guestRefused() {
        let setup = Self.sponsoredRoom()
        var room = setup.room
        let pollID = setup.pollID
        let update = room.send(.sponsorClick(.init(.poll(pollID))), from: guest)
        #expect(update.errorCode == .forbidden)
        #expect(update.records.isEmpty)
        #expect(room.sponsorClicks.entry(.poll(pollID)) == nil)
    }

    @Test("a click on no sponsor is not_found: an unknown id, an unsponsored poll, a draft, a quiz not yet asking")
    func notFound() {
        var (room, _, _) = Self.sponsoredRoom()
        let plain = room.launchPoll()
        let draft = room.send(.pollCreate(.init(question: "Later", options: ["a", "b"], sponsor: acme)), from: host).ackRef ?? ""
        var quiz = quizDraft(questions: 1)
        quiz.sponsor = acme
        let ready = room.send(.quizCreate(quiz), from: host).ackRef ?? ""
        for interaction in [SponsoredInteraction.poll("p999"), .quiz("z999"), .poll(plain), .poll(draft), .quiz(ready)] {
            let update = room.send(.sponsorClick(.init(interaction)), from: viewer(1))
            #expect(update.errorCode == .notFound, "\(interaction)")
            #expect(update.records.isEmpty)
        }
    }

    @Test("on the wire: an unknown id is an error frame with code not_found; no id, both ids or a bad mediaTime are bad_request")
    func wire() throws {
        let setup = Self.sponsoredRoom()
        var room = setup.room
        let (pollID, quizID) = (setup.pollID, setup.quizID)
        func reply(_ frame: String) throws -> [String: Any] {
            let envelope: ServerEnvelope
            switch ClientRequest.decode(frame) {
            case .success(let request): envelope = try #require(room.handle(request, from: viewer(1), at: t0).reply)
            case .failure(let rejection): envelope = rejection.reply
            }
            return try #require(try JSONSerialization.jsonObject(with: envelope.jsonData()) as? [String: Any])
        }
        let unknown = try reply(#"{"v":1,"type":"sponsor.click","id":"s1","pollID":"p404","mediaTime":3.5}"#)
        #expect(unknown["type"] as? String == "error" && unknown["id"] as? String == "s1")
        #expect(unknown["code"] as? String == "not_found")
        #expect(try reply(#"{"v":1,"type":"sponsor.click","id":"s2","quizID":"\#(quizID)"}"#)["type"] as? String == "ack")
        for bad in [#"{"v":1,"type":"sponsor.click","id":"s3"}"#,
                    #"{"v":1,"type":"sponsor.click","id":"s4","pollID":"\#(pollID)","quizID":"\#(quizID)"}"#,
                    #"{"v":1,"type":"sponsor.click","id":"s5","pollID":"\#(pollID)","mediaTime":-1}"#,
                    #"{"v":1,"type":"sponsor.click","id":"s6","pollID":7}"#] {
            #expect(try reply(bad)["code"] as? String == "bad_request", "\(bad)")
        }
        #expect(room.sponsorClicks.entry(.poll(pollID)) == nil)
        #expect(room.sponsorClicks.entry(.quiz(quizID))?.clicks == 1)
    }

    @Test("sponsor clicks share the offer clicks' per-user bucket")
    func rateLimited() {
        var room = Room(configuration: RoomConfiguration(), startingSeq: 0)
        let pollID = room.send(.pollCreate(.init(question: "Q", options: ["a", "b"], sponsor: acme)), from: host).ackRef ?? ""
        room.send(.pollLaunch(.init(pollID: pollID)), from: host)
        let burst = RoomConfiguration().rateLimits.clicks?.burst ?? 0
        for _ in 0..<burst { #expect(room.send(.sponsorClick(.init(.poll(pollID))), from: viewer(1)).isAck) }
        #expect(room.send(.sponsorClick(.init(.poll(pollID))), from: viewer(1)).errorCode == .rateLimited)
        #expect(room.send(.sponsorClick(.init(.poll(pollID))), from: viewer(2)).isAck, "per user")
    }

    @Test("sponsor clicks survive a checkpoint and a replay of the records")
    func durable() throws {
        let setup = Self.sponsoredRoom()
        var room = setup.room
        let (pollID, quizID) = (setup.pollID, setup.quizID)
        // The log as the store keeps it: the setup's records, then the clicks'.
        var log = Self.setupRecords(pollID: pollID, quizID: quizID)
        func send(_ message: ClientMessage, from identity: Identity) {
            log += room.send(message, from: identity).records
        }
        send(.sponsorClick(.init(.poll(pollID), mediaTime: 1.5)), from: viewer(1))
        send(.sponsorClick(.init(.poll(pollID))), from: viewer(1))
        send(.sponsorClick(.init(.quiz(quizID))), from: viewer(2))
        let checkpoint = try #require(RoomCheckpoint.decode(try room.checkpoint().encoded()))
        let covered = log.count
        send(.sponsorClick(.init(.poll(pollID))), from: viewer(3))

        let (fromCheckpoint, skippedTail) = Room.restore(configuration: room.configuration, checkpoint: checkpoint,
                                                         records: log[covered...], startingSeq: 0)
        let (replayed, skippedAll) = Room.restore(configuration: room.configuration, records: log, startingSeq: 0)
        #expect(skippedTail == 0 && skippedAll == 0)
        for rebuilt in [fromCheckpoint, replayed] {
            #expect(rebuilt.sponsorClicks == room.sponsorClicks)
            #expect(rebuilt.sponsorClickCounts == [
                .init(interaction: .poll(pollID), sponsor: "Acme", clicks: 3, uniqueClicks: 2),
                .init(interaction: .quiz(quizID), sponsor: "Acme", clicks: 1, uniqueClicks: 1),
            ])
        }
        // Records and checkpoints are storage formats: the click record's JSON, and a checkpoint from before sponsor
        // clicks (no `sponsorClicks` field) still restores.
        let record = try String(decoding: JSONEncoder().encode(log[covered]), as: UTF8.self)
        #expect(record.contains(#""sponsorClicked""#) && record.contains(#""interaction":{"pollID":"\#(pollID)"}"#))
        var old = try #require(try JSONSerialization.jsonObject(with: checkpoint.encoded()) as? [String: Any])
        old["sponsorClicks"] = nil
        let restoredOld = try #require(RoomCheckpoint.decode(try JSONSerialization.data(withJSONObject: old)))
        #expect(Room.restore(checkpoint: restoredOld, records: [], startingSeq: 0).room.sponsorClicks == SponsorClicks())
    }

    /// What `sponsoredRoom()` committed, from a fresh room doing the same.
    static func setupRecords(pollID: String, quizID: String) -> [Record] {
        var room = makeRoom()
        var records = room.send(.pollCreate(.init(question: "Q", options: ["a", "b"], sponsor: acme)), from: host).records
        records += room.send(.pollLaunch(.init(pollID: pollID)), from: host).records
        var draft = quizDraft(questions: 2)
        draft.sponsor = acme
        records += room.send(.quizCreate(draft), from: host).records
        records += room.send(.quizNext(.init(quizID: quizID)), from: host).records
        return records
    }

    @Test("the broadcast report has each sponsored poll and quiz: sponsor, impressions, clicks, unique clicks, click-through")
    func report() throws {
        let poll = PollDefinition(pollID: "p1", question: "Best?", options: ["A", "B"], sponsor: acme)
        let plain = PollDefinition(pollID: "p2", question: "Plain?", options: ["A", "B"])
        let quiz = QuizDefinition(quizID: "z1", title: "Trivia", questions: [
            .init(prompt: "1?", options: ["a", "b"], correct: Choices(index: 0) ?? [], windowSeconds: 10),
            .init(prompt: "2?", options: ["a", "b"], correct: Choices(index: 1) ?? [], windowSeconds: 10),
        ], sponsor: Sponsor(name: "Bolt, \"Inc\"", link: "https://bolt.example"))
        let log: [Record] = [
            .pollCreated(definition: poll, by: "host-1", at: at(-10)),
            .pollCreated(definition: plain, by: "host-1", at: at(-10)),
            .quizCreated(definition: quiz, by: "host-1", at: at(-10)),
            .broadcastStarted(broadcastID: "b1", at: at(0)),
            .viewerSample(count: 0, at: at(0)),
            .pollLaunched(pollID: "p1", at: at(10)),
            .viewerSample(count: 4, at: at(10)),
            .pollLaunched(pollID: "p2", at: at(11)),
            .viewerSample(count: 4, at: at(11)),
            .sponsorClicked(interaction: .poll("p1"), sub: "user-1", at: at(12), mediaTime: 8.25),
            .sponsorClicked(interaction: .poll("p1"), sub: "user-1", at: at(13)),
            .sponsorClicked(interaction: .poll("p1"), sub: "user-2", at: at(14), mediaTime: 10),
            .quizQuestionShown(quizID: "z1", index: 0, at: at(20)),
            .viewerSample(count: 5, at: at(20)),
            .quizQuestionShown(quizID: "z1", index: 1, at: at(40)),
            .viewerSample(count: 8, at: at(40)),
            .sponsorClicked(interaction: .quiz("z1"), sub: "user-3", at: at(41)),
            .broadcastEnded(broadcastID: "b1", at: at(60)),
            .sponsorClicked(interaction: .quiz("z1"), sub: "user-4", at: at(61)),
        ]
        let report = try #require(AnalyticsTests.report(log))
        #expect(report.sponsors.map(\.id) == ["p1", "z1"], "unsponsored polls are not listed")
        let sponsoredPoll = try #require(report.sponsors.first)
        #expect(sponsoredPoll.kind == .poll && sponsoredPoll.title == "Best?" && sponsoredPoll.sponsor == "Acme")
        #expect(sponsoredPoll.link == "https://acme.example")
        #expect(sponsoredPoll.impressions == 4 && sponsoredPoll.clicks == 3 && sponsoredPoll.uniqueClicks == 2)
        #expect(sponsoredPoll.clickThrough == 0.5)
        #expect(sponsoredPoll.clickLog.map(\.mediaTime) == [8.25, nil, 10])
        let sponsoredQuiz = try #require(report.sponsors.last)
        #expect(sponsoredQuiz.kind == .quiz && sponsoredQuiz.impressions == 8, "the largest audience at a question")
        #expect(sponsoredQuiz.clicks == 1 && sponsoredQuiz.uniqueClicks == 1, "a click after the end does not count")
        #expect(sponsoredQuiz.clickThrough == 0.125)

        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any])
        let sponsors = try #require(json["sponsors"] as? [[String: Any]])
        #expect(sponsors.first?["kind"] as? String == "poll" && sponsors.first?["uniqueClicks"] as? Int == 2)

        let lines = report.csv.components(separatedBy: "\r\n")
        for row in ["sponsor,p1,kind,poll", "sponsor,p1,sponsor,Acme", "sponsor,p1,impressions,4", "sponsor,p1,clicks,3",
                    "sponsor,p1,uniqueClicks,2", "sponsor,p1,clickThrough,0.5000", "sponsor,z1,kind,quiz",
                    #"sponsor,z1,sponsor,"Bolt, ""Inc""""#, "sponsor,z1,clickThrough,0.1250"] {
            #expect(lines.contains(row), "\(row)")
        }
    }
}
