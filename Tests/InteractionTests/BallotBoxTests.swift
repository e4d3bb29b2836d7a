import Testing
@testable import Interaction

@Suite("Ballot boxes")
struct BallotBoxTests {
    let t0 = Timestamp(unixMilliseconds: 1_700_000_000_000)
    let viewer = Identity(sub: "v1", name: "Vee", role: .viewer)

    func livePoll(window: Int? = nil, multiple: Bool = false, changes: Bool = true) throws -> Poll {
        var poll = Poll(definition: PollDefinition(pollID: "p1", question: "Q?", options: ["a", "b", "c"],
                                                   multipleChoice: multiple, windowSeconds: window, allowsChanges: changes))
        try poll.launch(at: t0)
        return poll
    }

    @Test("a box judges like the poll, counts deltas, and a changed ballot moves its count")
    func countsAndChanges() throws {
        var box = BallotBox(rateLimit: nil)
        box.update([PollRules(try livePoll())])
        let record = try box.vote(.init(pollID: "p1", choices: [0]), from: viewer, at: t0)
        #expect(record == .vote(pollID: "p1", sub: "v1", choices: Choices(indices: [0])!, at: t0))
        _ = try box.vote(.init(pollID: "p1", choices: [2]), from: viewer, at: t0)
        _ = try box.vote(.init(pollID: "p1", choices: [2]), from: Identity(sub: "v2", name: "W", role: .viewer), at: t0)
        let deltas = box.takeDeltas()
        #expect(deltas["p1"] == Tally(counts: [0, 0, 2], ballots: 2))
        #expect(box.takeDeltas().isEmpty)
        // A change after a drain takes the old ballot back out of the next delta.
        _ = try box.vote(.init(pollID: "p1", choices: [1]), from: viewer, at: t0)
        #expect(box.takeDeltas()["p1"] == Tally(counts: [0, 1, -1], ballots: 0))
    }

    @Test("refusals: unknown poll, bad option, single choice, second ballot, guests, closed and expired polls")
    func refusals() throws {
        var box = BallotBox(rateLimit: nil)
        box.update([PollRules(try livePoll(window: 10, changes: false))])
        func code(_ vote: ClientMessage.PollVote, _ who: Identity? = nil, at: Timestamp? = nil) -> ErrorCode? {
            do {
                _ = try box.vote(vote, from: who ?? viewer, at: at ?? t0)
                return nil
            } catch { return error.code }
        }
        #expect(code(.init(pollID: "nope", choices: [0])) == .notFound)
        #expect(code(.init(pollID: "p1", choices: [7])) == .unknownOption)
        #expect(code(.init(pollID: "p1", choices: [0, 1])) == .badRequest)
        #expect(code(.init(pollID: "p1", choices: [0]), Identity(sub: "g", name: "G", role: .guest)) == .forbidden)
        #expect(code(.init(pollID: "p1", choices: [0]), at: t0 + .seconds(10)) == .pollClosed)
        #expect(code(.init(pollID: "p1", choices: [0])) == nil)
        #expect(code(.init(pollID: "p1", choices: [1])) == .alreadyVoted)
        box.close(["p1"])
        #expect(code(.init(pollID: "p1", choices: [0]), Identity(sub: "late", name: "L", role: .viewer)) == .pollClosed)
        #expect(box.takeDeltas()["p1"] == Tally(counts: [1, 0, 0], ballots: 1))
    }

    @Test("a vote refused after the rate-limit check uses its token; one refused before it (index over 15) does not")
    func refusedVotesUseTokens() throws {
        var box = BallotBox(rateLimit: RateLimit(burst: 1, perSecond: 0.001))
        box.update([PollRules(try livePoll())])
        func code(_ choices: [Int], at time: Timestamp = t0) -> ErrorCode? {
            do {
                _ = try box.vote(.init(pollID: "p1", choices: choices), from: viewer, at: time)
                return nil
            } catch { return error.code }
        }
        #expect(code([16]) == .unknownOption)
        #expect(code([9]) == .unknownOption)
        #expect(code([0]) == .rateLimited)
    }

    @Test("the rate-limit buckets of voters gone quiet are dropped on the prune interval; recent voters' are kept")
    func prunesQuietVoters() throws {
        var box = BallotBox(rateLimit: RateLimit(burst: 10, perSecond: 5))
        box.update([PollRules(try livePoll())])
        for number in 0..<100 {
            _ = try box.vote(.init(pollID: "p1", choices: [0]), from: Identity(sub: "v\(number)", name: "V", role: .viewer), at: t0)
        }
        #expect(box.trackedVoters == 100)
        box.pruneIfDue(at: t0)
        box.pruneIfDue(at: t0 + .seconds(30))
        #expect(box.trackedVoters == 100, "nothing is pruned before the interval")
        _ = try box.vote(.init(pollID: "p1", choices: [1]), from: Identity(sub: "v7", name: "V", role: .viewer),
                         at: t0 + BallotBox.pruneInterval + .milliseconds(-50))
        box.pruneIfDue(at: t0 + BallotBox.pruneInterval)
        #expect(box.trackedVoters == 1, "only the voter still refilling keeps a bucket")
        #expect(box.ballotCount == 100, "ballots of the live poll are kept: they deduplicate")
    }

    @Test("boxes seeded from a restored room keep deduplicating, and merged deltas equal the room's own count")
    func seededAndMerged() throws {
        var room = Room(startingSeq: 0)
        let host = Identity(sub: "h", name: "H", role: .host)
        let created = room.handle(.pollCreate(.init(question: "Q?", options: ["a", "b"], allowChanges: false)), from: host, at: t0)
        #expect(created.records.count == 1)
        _ = room.handle(.pollLaunch(.init(pollID: "p1")), from: host, at: t0)
        _ = room.handle(.pollVote(.init(pollID: "p1", choices: [0])), from: viewer, at: t0)
        var box = BallotBox(rateLimit: nil)
        box.update(room.pollRules)
        box.seed(pollID: "p1", ballots: room.livePolls[0].ballots)
        #expect(throws: InteractionError.self) { try box.vote(.init(pollID: "p1", choices: [1]), from: viewer, at: t0) }
        _ = try box.vote(.init(pollID: "p1", choices: [1]), from: Identity(sub: "v2", name: "W", role: .viewer), at: t0)
        room.mergeTallies(box.takeDeltas())
        #expect(room.livePolls[0].tally == Tally(counts: [1, 1], ballots: 2))
    }
}
