import Foundation
import Testing
@testable import Interaction

/// Analytics from the event log: what the room writes while a broadcast is live, and the report built from records.
@Suite struct AnalyticsTests {
    static func chat(_ number: Int, by user: Int, at seconds: Double) -> Record {
        .chatPosted(message: ChatMessage(messageID: "m\(number)", sub: "user-\(user)", name: "User \(user)", role: .viewer,
                                         text: "hello \(number)", at: at(seconds)), shadow: false)
    }

    static func answer(_ user: Int, choice: Int, ms: Int64, at seconds: Double) -> Record {
        .quizAnswer(quizID: "z1", index: 0, sub: "user-\(user)", name: "User \(user)", choices: Choices(index: choice) ?? [],
                    responseMilliseconds: ms, at: at(seconds))
    }

    static func gift(_ id: String, by user: Int, item: String, value: Int, count: Int, at seconds: Double) -> Record {
        .giftSent(event: GiftEvent(giftEventID: id, sub: "user-\(user)", name: "User \(user)", giftID: item, giftName: item,
                                   icon: "*", value: value, count: count, text: "", at: at(seconds)))
    }

    /// A two-minute broadcast with a record of every kind, and records before and after it that must not count.
    static let knownLog: [Record] = {
        let poll = PollDefinition(pollID: "p1", question: "Best?", options: ["A", "B", "C"], allowsChanges: true)
        let quiz = QuizDefinition(quizID: "z1", title: "Trivia", questions: [
            .init(prompt: "2+2?", options: ["3", "4"], correct: Choices(index: 1) ?? [], windowSeconds: 10),
        ])
        let offer = OfferCard(offerID: "o1", title: "Mug", price: "9.99", currency: "EUR", link: "https://example.com/mug")
        var log: [Record] = [
            .pollCreated(definition: poll, by: "host-1", at: at(-60)),
            .quizCreated(definition: quiz, by: "host-1", at: at(-60)),
            chat(0, by: 9, at: -30),
            .broadcastStarted(broadcastID: "b1", at: at(0)),
            .viewerSample(count: 0, at: at(0)),
            .viewerSample(count: 4, at: at(10)),
            .pollLaunched(pollID: "p1", at: at(20)),
            .viewerSample(count: 5, at: at(20)),
            .vote(pollID: "p1", sub: "user-1", choices: Choices(index: 0) ?? [], at: at(21)),
            .vote(pollID: "p1", sub: "user-2", choices: Choices(index: 1) ?? [], at: at(22)),
            .vote(pollID: "p1", sub: "user-3", choices: Choices(index: 1) ?? [], at: at(23)),
            .vote(pollID: "p1", sub: "user-1", choices: Choices(index: 2) ?? [], at: at(24)),
            .pollClosed(pollID: "p1", at: at(29)),
            .quizQuestionShown(quizID: "z1", index: 0, at: at(30)),
            .viewerSample(count: 5, at: at(30)),
            answer(1, choice: 1, ms: 1_200, at: 31),
            answer(2, choice: 0, ms: 2_500, at: 33),
            answer(3, choice: 1, ms: 800, at: 31),
            answer(3, choice: 1, ms: 900, at: 32),
            .reactionsCounted(counts: ["❤️": 10, "👍": 5], at: at(40)),
            .questionAsked(question: Question(questionID: "q1", sub: "user-1", name: "User 1", text: "Why?", askedAt: at(41), status: .open)),
            .questionAsked(question: Question(questionID: "q2", sub: "user-2", name: "User 2", text: "How?", askedAt: at(42), status: .open)),
            .questionModerated(questionID: "q1", action: .answer, by: "host-1", at: at(45)),
            .offerShown(offer: offer, at: at(50)),
            .viewerSample(count: 4, at: at(50)),
            .offerClicked(offerID: "o1", sub: "user-1", at: at(51)),
            .offerClicked(offerID: "o1", sub: "user-1", at: at(52)),
            .offerClicked(offerID: "o1", sub: "user-2", at: at(53), mediaTime: 12.5),
            .viewerSample(count: 2, at: at(60)),
            gift("g1", by: 1, item: "rose", value: 5, count: 3, at: 70),
            gift("g2", by: 2, item: "rocket", value: 100, count: 1, at: 80),
            gift("g3", by: 1, item: "rose", value: 5, count: 1, at: 90),
            .chatPosted(message: ChatMessage(messageID: "m99", sub: "user-4", name: "User 4", role: .viewer, text: "hidden",
                                             at: at(95)), shadow: true),
            .viewerSample(count: 2, at: at(120)),
            .broadcastEnded(broadcastID: "b1", at: at(120)),
            chat(50, by: 1, at: 130),
        ]
        // Five visible messages: three in the first minute, two in the second.
        log.insert(contentsOf: [chat(1, by: 1, at: 5), chat(2, by: 2, at: 15), chat(3, by: 1, at: 59)], at: 5)
        log.insert(contentsOf: [chat(4, by: 3, at: 61), chat(5, by: 2, at: 119)], at: log.count - 3)
        return log
    }()

    static func report(_ records: [Record], id: String = "b1", live: Bool = false, now: Timestamp = at(1_000)) -> BroadcastReport? {
        var builder = BroadcastReportBuilder(broadcastID: id)
        for record in records { builder.add(record) }
        return builder.report(channel: "show", live: live, now: now)
    }

    @Test("the report of a known log has the exact numbers of what happened in the broadcast")
    func knownLogReport() throws {
        let report = try #require(Self.report(Self.knownLog))
        #expect(report.broadcastID == "b1" && !report.live)
        #expect(report.startedAt == at(0).date && report.endedAt == at(120).date)
        #expect(report.durationSeconds == 120)
        #expect(report.viewers.series.map(\.count) == [0, 4, 5, 5, 4, 2, 2])
        #expect(report.viewers.series.map(\.offsetSeconds) == [0, 10, 20, 30, 50, 60, 120])
        #expect(report.viewers.peak == 5)
        // 0·10 + 4·10 + 5·10 + 5·20 + 4·10 + 2·60 = 350 viewer-seconds over 120 s.
        #expect(abs(report.viewers.average - 350.0 / 120.0) < 1e-9)

        let poll = try #require(report.polls.first)
        #expect(report.polls.count == 1)
        #expect(poll.question == "Best?" && poll.viewersAtLaunch == 5 && poll.voters == 3)
        #expect(poll.participation == 0.6)
        #expect(poll.counts == [0, 2, 1], "user-1 changed to C")
        #expect(poll.closedAt == at(29).date)

        let quiz = try #require(report.quizzes.first)
        #expect(quiz.title == "Trivia" && quiz.players == 3 && quiz.participation == 0.6)
        let question = try #require(quiz.questions.first)
        #expect(question.prompt == "2+2?" && question.viewersAtShow == 5)
        #expect(question.answers == 3 && question.correct == 2, "a second answer of user-3 does not count")
        #expect(question.answerTime.count == 3)
        #expect(question.answerTime.minMs == 800 && question.answerTime.maxMs == 2_500)
        #expect(question.answerTime.p50Ms == 1_200 && question.answerTime.p90Ms == 2_500 && question.answerTime.p99Ms == 2_500)
        #expect(question.answerTime.bucketMs == 1_000 && question.answerTime.histogram == [1, 1, 1])
        #expect(abs((question.answerTime.meanMs ?? 0) - 1_500) < 1e-9)

        #expect(report.chat.total == 5, "shadowed and out-of-broadcast messages do not count")
        #expect(report.chat.perMinute == 2.5)
        #expect(report.chat.bucketSeconds == 60 && report.chat.series == [3, 2])
        #expect(report.reactions.total == 15 && report.reactions.perMinute == 7.5)
        #expect(report.reactions.byEmoji == ["❤️": 10, "👍": 5] && report.reactions.series == [15, 0])
        #expect(report.questions.asked == 2 && report.questions.answered == 1)

        let offer = try #require(report.offers.first)
        #expect(offer.title == "Mug" && offer.impressions == 4 && offer.clicks == 3 && offer.uniqueClicks == 2)
        #expect(offer.clickThrough == 0.5)
        // Each click attributed: who, when, and where on the video the viewer's playhead was (when their client said).
        #expect(offer.clickLog.map(\.sub) == ["user-1", "user-1", "user-2"])
        #expect(offer.clickLog.map(\.at) == [at(51).date, at(52).date, at(53).date])
        #expect(offer.clickLog.map(\.mediaTime) == [nil, nil, 12.5])

        #expect(report.gifts.events == 3 && report.gifts.items == 5 && report.gifts.value == 120)
        #expect(report.gifts.byItem.map(\.giftID) == ["rose", "rocket"])
        #expect(report.gifts.byItem.map(\.value) == [20, 100])
        #expect(report.gifts.topSupporters.map(\.sub) == ["user-2", "user-1"])
        #expect(report.gifts.topSupporters.map(\.value) == [100, 20])
    }

    @Test("a broadcast whose start is not in the log has no report")
    func unknownBroadcast() {
        #expect(Self.report(Self.knownLog, id: "nope") == nil)
    }

    @Test("a live report runs to now with no end")
    func liveReport() throws {
        let inProgress = Array(Self.knownLog.prefix { if case .viewerSample(2, _) = $0 { false } else { true } })
        let report = try #require(Self.report(inProgress, live: true, now: at(55)))
        #expect(report.live && report.endedAt == nil && report.durationSeconds == 55)
        #expect(report.viewers.peak == 5 && report.polls.first?.voters == 3)
        // 0·10 + 4·10 + 5·10 + 5·20 + 4·5 = 210 viewer-seconds over 55 s.
        #expect(abs(report.viewers.average - 210.0 / 55.0) < 1e-9)
    }

    @Test("the list ends a broadcast without an end record at its last sample, and keeps the live one open")
    func index() {
        let log: [Record] = [
            .broadcastStarted(broadcastID: "b1", at: at(0)),
            .viewerSample(count: 3, at: at(0)),
            .viewerSample(count: 7, at: at(40)),
            // The server died here; the next publish started a new broadcast.
            .broadcastStarted(broadcastID: "b2", at: at(100)),
            .viewerSample(count: 2, at: at(100)),
            .broadcastEnded(broadcastID: "b2", at: at(130)),
            .broadcastStarted(broadcastID: "b3", at: at(200)),
            .viewerSample(count: 1, at: at(200)),
        ]
        let list = BroadcastIndex.summaries(log, liveID: "b3", now: at(260))
        #expect(list.map(\.id) == ["b1", "b2", "b3"])
        #expect(list.map(\.endedAt) == [at(40).date, at(130).date, nil])
        #expect(list.map(\.durationSeconds) == [40, 30, 60])
        #expect(list.map(\.peakViewers) == [7, 2, 1])
        let afterRestart = BroadcastIndex.summaries(log, liveID: nil, now: at(260))
        #expect(afterRestart.last?.endedAt == at(200).date)
        #expect(Self.report(log, id: "b1")?.endedAt == at(40).date, "the report agrees with the list")
    }

    @Test("while live the room samples its audience (staff not counted) each interval and at a launch, and counts reactions")
    func roomSampling() throws {
        var room = makeRoom { $0.viewerSampleInterval = .seconds(10) }
        try room.join(viewer(1))
        try room.join(viewer(2))
        try room.join(host)
        #expect(room.tick(at: at(0)).records.isEmpty, "nothing is sampled before a broadcast")
        var records = room.beginBroadcast("b1", at: at(1)).records
        #expect(records == [.broadcastStarted(broadcastID: "b1", at: at(1)), .viewerSample(count: 2, at: at(1))])
        #expect(room.tick(at: at(5)).records.isEmpty)
        try room.join(viewer(3))
        room.send(.reaction(.init(emoji: "❤️")), from: viewer(1), at: at(6))
        room.send(.reaction(.init(emoji: "❤️")), from: viewer(2), at: at(6))
        records += room.tick(at: at(6)).records
        records += room.tick(at: at(11)).records
        #expect(Array(records.suffix(2)) == [.reactionsCounted(counts: ["❤️": 2], at: at(11)), .viewerSample(count: 3, at: at(11))])
        let launch = room.send(.pollCreate(.init(question: "Q?", options: ["a", "b"])), from: host, at: at(12))
        let pollID = try #require(launch.ackRef)
        let launched = room.send(.pollLaunch(.init(pollID: pollID)), from: host, at: at(13)).records
        #expect(launched == [.pollLaunched(pollID: pollID, at: at(13)), .viewerSample(count: 3, at: at(13))])
        records += launch.records + launched
        room.leave(viewer(3))
        records += room.endBroadcast("b1", at: at(15)).records
        #expect(Array(records.suffix(2)) == [.viewerSample(count: 2, at: at(15)), .broadcastEnded(broadcastID: "b1", at: at(15))])
        #expect(room.tick(at: at(40)).records.isEmpty, "nothing is sampled after the end")

        let report = try #require(Self.report(records))
        #expect(report.viewers.peak == 3 && report.polls.first?.viewersAtLaunch == 3)
        #expect(report.reactions.total == 2 && report.durationSeconds == 14)

        // The records replay: a restored room knows it is sampling for b1 until told otherwise.
        var restored = Room.restore(configuration: room.configuration, records: Array(records.dropLast()), startingSeq: 0).room
        #expect(restored.liveBroadcastID == "b1")
        restored.adoptBroadcast(nil)
        #expect(restored.tick(at: at(100)).records.isEmpty)
    }

    @Test("the CSV is one flat table whose text cells are quoted and defused for spreadsheets")
    func csv() throws {
        var log = Self.knownLog
        log[0] = .pollCreated(definition: PollDefinition(pollID: "p1", question: #"=HYPERLINK("x"), now"#, options: ["A", "B", "C"],
                                                         allowsChanges: true), by: "host-1", at: at(-60))
        let csv = try #require(Self.report(log)).csv
        let lines = csv.components(separatedBy: "\r\n")
        #expect(lines.first == "section,item,metric,value")
        #expect(lines.contains("summary,,peakViewers,5"))
        #expect(lines.contains("poll,p1,voters,3"))
        #expect(lines.contains("poll,p1,participation,0.6000"))
        #expect(lines.contains(#"poll,p1,question,"'=HYPERLINK(""x""), now""#))
        #expect(lines.contains("quizQuestion,z1#0,answerTimeP50Ms,1200"))
        #expect(lines.contains("chat,,messages,5"))
        #expect(lines.contains("offer,o1,clickThrough,0.5000"))
        #expect(lines.filter { $0.hasPrefix("viewers,") }.count == 7)
        #expect(csv.hasSuffix("\r\n"))
    }

    @Test("answer-time histograms widen their buckets to stay at 60", arguments: [
        ([Int64(0), 59_999], Int64(1_000), 60),
        ([Int64(0), 60_000], Int64(2_000), 31),
        ([Int64(500)], Int64(1_000), 1),
    ])
    func histogramWidth(values: [Int64], bucket: Int64, buckets: Int) {
        let distribution = Distribution(values)
        #expect(distribution.bucketMs == bucket && distribution.histogram.count == buckets)
        #expect(distribution.histogram.reduce(0, +) == values.count)
    }
}
