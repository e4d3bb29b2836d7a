import Synchronization

/// The vote path of a room's core: ballot boxes outside the room's lock, the rules and the admission they judge by,
/// and the sealing that moves their accepted votes into the queue ahead of a close.
extension RoomCore {
    /// The ballot boxes of a room, seeded with the ballots of its live polls.
    static func makeShards(for room: Room) -> [ShardBox] {
        var boxes: [BallotBox] = []
        for _ in 0..<ballotShards {
            var box = BallotBox(rateLimit: room.configuration.rateLimits.votes, admission: room.admission)
            box.update(room.pollRules)
            boxes.append(box)
        }
        for poll in room.livePolls {
            var split = Array(repeating: [String: Choices](), count: ballotShards)
            for (sub, choices) in poll.ballots { split[shardIndex(of: sub)][sub] = choices }
            for index in boxes.indices { boxes[index].seed(pollID: poll.pollID, ballots: split[index]) }
        }
        return boxes.map { ShardBox(BallotShard(box: $0)) }
    }

    /// The shard of a voter: a stable hash of `sub` (FNV-1a), the same in every process.
    static func shardIndex(of sub: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sub.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(ballotShards))
    }

    /// The hot path: one ballot box's lock, no room lock. Refusals answer at once; acceptances after the commit.
    func castVote(_ vote: ClientMessage.PollVote, id: String?, from identity: Identity, origin: Origin, at now: Timestamp) {
        var latency = Duration.milliseconds(Self.reportSlack)
        if case let .peer(peer) = origin {
            latency = .milliseconds(peer.displayLatencyMilliseconds + Self.reportSlack + peer.transitCreditMilliseconds)
        }
        let refusal = shards[Self.shardIndex(of: identity.sub)].withLock { shard -> InteractionError? in
            do throws(InteractionError) {
                let record = try shard.box.vote(vote, from: identity, at: now, displayLatency: latency)
                shard.pending.append(PendingVote(record: record, requestID: id, origin: origin))
                return nil
            } catch {
                return error
            }
        }
        if let refusal { origin.answer(ServerEnvelope(id: id, .error(.init(refusal)))) }
    }

    static var pollKinds: Set<ClientMessage.Kind> { [.pollCreate, .pollLaunch, .pollClose, .pollReveal] }

    /// The polls a host request closes (and so must seal in the ballot boxes before the room records the close).
    static func pollsClosed(by message: ClientMessage) -> [String] {
        switch message {
        case .pollClose(let target), .pollReveal(let target): [target.pollID]
        default: []
        }
    }

    /// Called under the room's lock: stops `closing` in every box, moves the boxes' accepted votes into the queue
    /// (ahead of whatever the caller queues next) and merges their counts into the room.
    @discardableResult
    func sealShards(into room: inout Room, closing: [String]) -> Bool {
        var moved = false
        var deltas: [[String: Tally]] = []
        for shard in shards {
            shard.withLock { shard in
                if !closing.isEmpty { shard.box.close(closing) }
                deltas.append(shard.box.takeDeltas())
                if !shard.pending.isEmpty {
                    let pending = shard.pending
                    shard.pending.removeAll(keepingCapacity: true)
                    queue.withLock { $0.append(.votes(pending)) }
                    moved = true
                }
            }
        }
        for delta in deltas where !delta.isEmpty { room.mergeTallies(delta) }
        return moved
    }

    static func isModeration(_ record: Record) -> Bool {
        if case .moderation = record { return true }
        return false
    }

    /// Called under the room's lock after a moderation action: the boxes judge votes by the same holds as the room.
    func publishAdmission(of room: Room) {
        let current = room.admission
        admission.withLock { $0 = current }
        for shard in shards {
            shard.withLock { $0.box.update(current) }
        }
    }

    /// Called under the room's lock after a poll changed phase.
    func publishRules(of room: Room) {
        let rules = room.pollRules
        for shard in shards {
            shard.withLock { $0.box.update(rules) }
        }
    }
}
