import Interaction

/// A fixed start of time for every test.
let t0 = Timestamp(unixMilliseconds: 1_700_000_000_000)

extension Timestamp {
    /// `t0`-relative helper: this instant plus `seconds`.
    func plus(_ seconds: Double) -> Timestamp {
        Timestamp(unixMilliseconds: unixMilliseconds + Int64((seconds * 1000).rounded()))
    }
}

func at(_ seconds: Double) -> Timestamp { t0.plus(seconds) }

let host = Identity(sub: "host-1", name: "Hana", role: .host)
let moderator = Identity(sub: "mod-1", name: "Mo", role: .moderator)
let guest = Identity(sub: "anon-1", name: "Guest", role: .guest)

func viewer(_ number: Int) -> Identity {
    Identity(sub: "user-\(number)", name: "User \(number)", role: .viewer)
}

/// A room with rate limits off (tests that need them switch them on) and seq starting at 0.
func makeRoom(_ configure: (inout RoomConfiguration) -> Void = { _ in }) -> Room {
    var configuration = RoomConfiguration()
    configuration.rateLimits = .disabled
    configure(&configuration)
    return Room(configuration: configuration, startingSeq: 0)
}

extension RoomUpdate {
    /// The error code of the reply, if it is an error.
    var errorCode: ErrorCode? {
        if case .error(let body) = reply?.message { return body.code }
        return nil
    }

    /// The `ref` of the reply, if it is an ack.
    var ackRef: String? {
        if case .ack(let ack) = reply?.message { return ack.ref }
        return nil
    }

    var isAck: Bool {
        if case .ack = reply?.message { return true }
        return false
    }
}

extension Room {
    /// Sends `message` with a request id so that the reply is always present.
    @discardableResult
    mutating func send(_ message: ClientMessage, from identity: Identity, at now: Timestamp = t0,
                       context: RequestTiming = RequestTiming()) -> RoomUpdate {
        handle(ClientRequest(id: "req", message), from: identity, at: now, context: context)
    }

    /// Creates and launches a poll; returns its id.
    mutating func launchPoll(options: Int = 3, multipleChoice: Bool = false, windowSeconds: Int? = nil,
                             allowChanges: Bool? = nil, at now: Timestamp = t0) -> String {
        let draft = ClientMessage.PollDraft(question: "Which one?", options: (0..<options).map { "Option \($0)" },
                                            multipleChoice: multipleChoice, windowSeconds: windowSeconds,
                                            allowChanges: allowChanges)
        let pollID = send(.pollCreate(draft), from: host, at: now).ackRef ?? "missing"
        send(.pollLaunch(.init(pollID: pollID)), from: host, at: now)
        return pollID
    }

    @discardableResult
    mutating func vote(_ pollID: String, _ choices: [Int], by identity: Identity, at now: Timestamp = t0) -> RoomUpdate {
        send(.pollVote(.init(pollID: pollID, choices: choices)), from: identity, at: now)
    }
}

/// The messages of a kind among `messages`.
func only<T>(_ messages: [ServerMessage], _ extract: (ServerMessage) -> T?) -> [T] {
    messages.compactMap(extract)
}
