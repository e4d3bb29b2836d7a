import Testing
import Interaction

@Suite("Polls")
struct PollTests {
    @Test("a second ballot is refused with already_voted when changes are off")
    func dedup() {
        var room = makeRoom()
        let pollID = room.launchPoll()
        #expect(room.vote(pollID, [0], by: viewer(1)).isAck)
        let second = room.vote(pollID, [1], by: viewer(1))
        #expect(second.errorCode == .alreadyVoted)
        #expect(second.records.isEmpty)
        #expect(room.poll(withID: pollID)?.tally.counts == [1, 0, 0])
    }

    @Test("a ballot may change until close when the poll allows it, and the tally follows")
    func changeAllowed() {
        var room = makeRoom()
        let pollID = room.launchPoll(allowChanges: true)
        #expect(room.vote(pollID, [0], by: viewer(1)).isAck)
        #expect(room.vote(pollID, [2], by: viewer(1)).isAck)
        #expect(room.vote(pollID, [2], by: viewer(1)).isAck)
        #expect(room.poll(withID: pollID)?.tally == Tally(counts: [0, 0, 1], ballots: 1))
        room.send(.pollClose(.init(pollID: pollID)), from: host)
        #expect(room.vote(pollID, [1], by: viewer(1)).errorCode == .pollClosed)
    }

    @Test("the channel default for ballot changes applies when the poll does not say")
    func channelDefault() {
        var room = makeRoom { $0.ballotChangesAllowed = true }
        let pollID = room.launchPoll()
        #expect(room.vote(pollID, [0], by: viewer(1)).isAck)
        #expect(room.vote(pollID, [1], by: viewer(1)).isAck)
    }

    @Test("ballots on a draft or closed poll are refused with poll_closed")
    func closedPoll() {
        var room = makeRoom()
        let pollID = room.send(.pollCreate(.init(question: "Q", options: ["a", "b"])), from: host).ackRef ?? ""
        #expect(room.vote(pollID, [0], by: viewer(1)).errorCode == .pollClosed)
        room.send(.pollLaunch(.init(pollID: pollID)), from: host)
        room.send(.pollClose(.init(pollID: pollID)), from: host)
        #expect(room.vote(pollID, [0], by: viewer(1)).errorCode == .pollClosed)
        #expect(room.poll(withID: pollID)?.tally.ballots == 0)
    }

    @Test("a ballot for a missing option or poll is refused", arguments: [[3], [-1], [99], [0, 7]])
    func missingOption(choices: [Int]) {
        var room = makeRoom()
        let pollID = room.launchPoll(options: 3, multipleChoice: true)
        #expect(room.vote(pollID, choices, by: viewer(1)).errorCode == .unknownOption)
        #expect(room.vote("p999", [0], by: viewer(1)).errorCode == .notFound)
    }

    @Test("a single-choice poll refuses two choices and an empty ballot; a multiple-choice poll counts each")
    func choiceRules() {
        var room = makeRoom()
        let single = room.launchPoll()
        #expect(room.vote(single, [0, 1], by: viewer(1)).errorCode == .badRequest)
        #expect(room.vote(single, [], by: viewer(1)).errorCode == .badRequest)
        let multi = room.launchPoll(multipleChoice: true)
        #expect(room.vote(multi, [0, 2], by: viewer(1)).isAck)
        #expect(room.poll(withID: multi)?.tally == Tally(counts: [1, 0, 1], ballots: 1))
    }

    @Test("a poll has 2 to 10 options", arguments: [1, 11, 0])
    func optionCount(count: Int) {
        var room = makeRoom()
        let draft = ClientMessage.PollDraft(question: "Q", options: (0..<count).map { "o\($0)" })
        #expect(room.send(.pollCreate(draft), from: host).errorCode == .badRequest)
    }

    @Test("lifecycle actions out of order are refused with invalid_state")
    func lifecycle() {
        var room = makeRoom()
        let pollID = room.send(.pollCreate(.init(question: "Q", options: ["a", "b"])), from: host).ackRef ?? ""
        #expect(room.send(.pollClose(.init(pollID: pollID)), from: host).errorCode == .invalidState)
        #expect(room.send(.pollReveal(.init(pollID: pollID)), from: host).errorCode == .invalidState)
        #expect(room.send(.pollLaunch(.init(pollID: pollID)), from: host).isAck)
        #expect(room.send(.pollLaunch(.init(pollID: pollID)), from: host).errorCode == .invalidState)
        #expect(room.send(.pollLaunch(.init(pollID: "nope")), from: host).errorCode == .notFound)
    }

    @Test("a windowed poll closes on the first tick after its deadline, stamped with the deadline")
    func windowAutoClose() {
        var room = makeRoom()
        let pollID = room.launchPoll(windowSeconds: 10)
        #expect(room.vote(pollID, [1], by: viewer(1), at: at(9.999)).isAck)
        #expect(room.tick(at: at(9.9)).records.isEmpty)
        #expect(room.vote(pollID, [1], by: viewer(2), at: at(10)).errorCode == .pollClosed)
        let tick = room.tick(at: at(10.05))
        #expect(tick.records == [.pollClosed(pollID: pollID, at: at(10))])
        #expect(room.poll(withID: pollID)?.phase == .closed)
        let views = only(tick.messages(for: viewer(3))) { if case .poll(let view) = $0 { view } else { nil } }
        #expect(views.map(\.phase) == [.closed])
        #expect(views.first?.results == nil)
        #expect(room.tick(at: at(11)).records.isEmpty)
    }

    @Test("results reach viewers only when the host reveals")
    func revealOnCommand() {
        var room = makeRoom()
        let pollID = room.launchPoll(windowSeconds: 5)
        room.vote(pollID, [0], by: viewer(1))
        room.vote(pollID, [0], by: viewer(2))
        room.vote(pollID, [2], by: viewer(3))
        let closing = room.tick(at: at(6))
        let close = room.send(.pollClose(.init(pollID: pollID)), from: host, at: at(7))
        #expect(close.errorCode == .invalidState)
        for update in [closing, room.tick(at: at(20))] {
            for message in update.messages(for: viewer(9)) {
                if case .results = message { Issue.record("results leaked before reveal") }
                if case .tally = message { Issue.record("tally leaked to a viewer") }
            }
        }
        #expect(room.snapshot(for: viewer(9)).polls.first?.results == nil)
        let reveal = room.send(.pollReveal(.init(pollID: pollID)), from: host, at: at(30))
        let results = only(reveal.messages(for: viewer(9))) { if case .results(let tally) = $0 { tally } else { nil } }
        #expect(results == [.init(pollID: pollID, counts: [2, 0, 1], ballots: 3)])
        #expect(room.snapshot(for: viewer(9)).polls.first?.results?.counts == [2, 0, 1])
        #expect(room.poll(withID: pollID)?.phase == .revealed)
    }

    @Test("staff get the live tally every tick; viewers never do")
    func tallyEveryTick() {
        var room = makeRoom()
        let pollID = room.launchPoll()
        room.vote(pollID, [1], by: viewer(1))
        for step in 1...3 {
            let update = room.tick(at: at(Double(step) * 0.1))
            let tallies = only(update.messages(for: host)) { if case .tally(let tally) = $0 { tally } else { nil } }
            #expect(tallies == [.init(pollID: pollID, counts: [0, 1, 0], ballots: 1)])
            #expect(update.messages(for: viewer(1)).isEmpty)
        }
    }

    @Test("100,000 voters are counted exactly")
    func hundredThousandVoters() {
        var room = makeRoom()
        let pollID = room.launchPoll(options: 4, windowSeconds: 60)
        var expected = [0, 0, 0, 0]
        for number in 0..<100_000 {
            let choice = (number * 7 + number / 3) % 4
            expected[choice] += 1
            let update = room.handle(.pollVote(.init(pollID: pollID, choices: [choice])),
                                     from: viewer(number), at: at(Double(number) / 100_000))
            #expect(update.records.count == 1 || Bool(false))
        }
        // Some repeat voters: all refused.
        for number in 0..<1_000 {
            #expect(room.vote(pollID, [0], by: viewer(number), at: at(1.5)).errorCode == .alreadyVoted)
        }
        let tally = room.poll(withID: pollID)?.tally
        #expect(tally?.counts == expected)
        #expect(tally?.ballots == 100_000)
        #expect(room.poll(withID: pollID)?.ballots.count == 100_000)
    }

    @Test("tallies merge like per-shard counters")
    func tallyMerge() {
        var shards = (0..<4).map { _ in Tally(optionCount: 3) }
        var whole = Tally(optionCount: 3)
        for vote in 0..<1_000 {
            let choices = Choices(index: vote % 3) ?? []
            shards[vote % 4].add(choices)
            whole.add(choices)
        }
        var merged = Tally(optionCount: 3)
        for shard in shards { merged.merge(shard) }
        #expect(merged == whole)
        #expect(Tally(optionCount: 1).merging(Tally(counts: [1, 2], ballots: 2)) == Tally(counts: [1, 2], ballots: 2))
        var reset = merged
        reset.reset()
        #expect(reset == Tally(optionCount: 3))
    }

    @Test("choices are a bit set with an index list on the wire")
    func choices() throws {
        let choices = try #require(Choices(indices: [3, 0, 3]))
        #expect(choices.indices == [0, 3])
        #expect(choices.count == 2)
        #expect(choices.fits(optionCount: 4) && !choices.fits(optionCount: 3))
        #expect(Choices(indices: [16]) == nil)
        #expect(Choices(index: -1) == nil)
    }
}
