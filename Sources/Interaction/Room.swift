import OrderedCollections

/// The interactive room of one channel: a deterministic state machine with no I/O.
///
/// Drive it with `handle(_:from:at:context:)` for each client request, `tick(at:)` every 100–200 ms, `join`/`leave`
/// as connections come and go, and `hello(for:resumingAfter:at:)` when a connection opens. Each call returns a
/// `RoomUpdate`: records to commit, then a reply and broadcasts to send. Rebuild after a restart with
/// `restore(configuration:records:…)`.
///
/// A room is a value: the server keeps it where it serializes access (an actor or one event loop per room) and merges
/// per-shard counters (`Tally`, reaction counts) into it on the tick.
public struct Room: Sendable {
    public let configuration: RoomConfiguration
    let paymentHook: any GiftPaymentHook

    /// The last sequence number issued.
    public private(set) var seq: UInt64
    public internal(set) var history: BroadcastHistory
    var ids = IDGenerator()

    public internal(set) var chat: ChatRoom
    public internal(set) var moderation = Moderation()
    public internal(set) var polls: OrderedDictionary<String, Poll> = [:]
    public internal(set) var quizzes: OrderedDictionary<String, Quiz> = [:]
    public internal(set) var qanda = QandA()
    public internal(set) var reactions: Reactions
    public internal(set) var gifts: Gifts
    public internal(set) var offers = Offers()
    public internal(set) var sponsorClicks = SponsorClicks()
    /// Open connections (a count, never a member list).
    public internal(set) var viewers = 0
    /// Open connections of staff (hosts, moderators): `viewers` less these is the audience analytics counts.
    public internal(set) var staffConnections = 0
    /// What the room writes into its log for analytics while a broadcast is live.
    var sampler = AudienceSampler()

    var limits: Limits
    var lastViewersSent = 0
    var lastViewersSentAt: Timestamp?
    /// The least time between two viewer-count messages.
    static let viewerCountInterval: Duration = .milliseconds(500)
    var questionVotesChanged: Set<String> = []
    var offerClicksChanged: Set<String> = []
    var sponsorClicksChanged: Set<SponsoredInteraction> = []
    var supportersChanged = false
    var lastPrune: Timestamp?
    /// The cue of each poll's launch and each quiz's current question (by poll or quiz id): window ends are timed from
    /// them. Memory only: a restarted room times windows from the server clock.
    var windowCues: [String: CueStamp] = [:]
    /// The highest staff role each moderator or host has joined or acted with (acts are in the records, so this
    /// survives a restart): a moderation action on a user of the same or a higher role than the actor's is refused.
    /// Where the room does not know the target, the hold is still recorded with the actor's role and never reaches
    /// anyone whose token carries that role or a higher one (`Moderation`).
    var staffRoles: [String: Role] = [Identity.administratorSub: .host]
    /// The chat settings the records changed from the configuration's (a checkpoint keeps them).
    var chatOverrides = ChatOverrides()

    struct ChatOverrides: Sendable, Hashable, Codable {
        var slowModeSeconds: Int?
        var filterWords: [String]?
    }

    struct Limits: Sendable {
        var chat, reactions, votes, questions, upvotes, gifts, clicks: RateLimiter

        init(_ limits: RoomConfiguration.RateLimits) {
            chat = RateLimiter(limits.chat)
            reactions = RateLimiter(limits.reactions)
            votes = RateLimiter(limits.votes)
            questions = RateLimiter(limits.questions)
            upvotes = RateLimiter(limits.upvotes)
            gifts = RateLimiter(limits.gifts)
            clicks = RateLimiter(limits.clicks)
        }
    }

    /// A new, empty room.
    ///
    /// - Parameter startingSeq: the seq before the first broadcast. It must exceed every seq an earlier instance of
    ///   this room issued, so that clients of that instance are not resumed against this one. The default,
    ///   `Room.startingSeq(at:)`, derives it from the wall clock.
    public init(configuration: RoomConfiguration = RoomConfiguration(),
                paymentHook: any GiftPaymentHook = AcceptAllGifts(),
                startingSeq: UInt64) {
        self.configuration = configuration
        self.paymentHook = paymentHook
        self.seq = startingSeq
        self.history = BroadcastHistory(limit: configuration.broadcastHistoryLimit, startingAfter: startingSeq)
        self.chat = ChatRoom(historyLimit: configuration.chatHistoryLimit, slowModeSeconds: configuration.slowModeSeconds,
                             filter: WordFilter(configuration.filterWords))
        self.reactions = Reactions(allowed: configuration.allowedReactions)
        self.gifts = Gifts(catalogue: configuration.gifts, template: configuration.giftTemplate)
        self.limits = Limits(configuration.rateLimits)
    }

    /// A starting seq for an instance created at `now`: Unix microseconds. An instance that issues fewer than a
    /// million broadcasts per second on average never reaches the starting seq of a later instance, and the values
    /// stay below 2^53 (exact in JavaScript) for centuries.
    public static func startingSeq(at now: Timestamp) -> UInt64 {
        UInt64(max(now.unixMilliseconds, 0)) &* 1000
    }

    /// Rebuilds a room from its records, in the order they were committed. Records that no longer apply (which a
    /// consistent log never contains) are skipped and counted in `skipped`.
    public static func restore(configuration: RoomConfiguration = RoomConfiguration(),
                               paymentHook: any GiftPaymentHook = AcceptAllGifts(),
                               records: some Sequence<Record>,
                               startingSeq: UInt64) -> (room: Room, skipped: Int) {
        var room = Room(configuration: configuration, paymentHook: paymentHook, startingSeq: startingSeq)
        var skipped = 0
        for record in records {
            do { try room.apply(record) } catch { skipped += 1 }
        }
        return (room, skipped)
    }

    // MARK: Connections

    /// Counts a new connection; refuses banned users (`banned`) and guests where the channel has no anonymous access
    /// (`forbidden`).
    public mutating func join(_ identity: Identity) throws(InteractionError) {
        try admission.checkJoin(identity)
        noteStaff(identity.sub, identity.role)
        viewers += 1
        if identity.role.isStaff { staffConnections += 1 }
    }

    /// Counts a closed connection.
    public mutating func leave(_ identity: Identity) {
        viewers = max(viewers - 1, 0)
        if identity.role.isStaff { staffConnections = max(staffConnections - 1, 0) }
    }

    /// Whether a ban is recorded for `sub` (it holds those whose role is below the banner's).
    public func isBanned(_ sub: String) -> Bool { moderation.isBanned(sub) }

    /// The room's admission rule as it stands (copy it to ballot boxes after every moderation change).
    public var admission: Admission {
        Admission(allowsAnonymous: configuration.allowsAnonymous, moderation: moderation)
    }

    /// The `hello` for a new connection. When `lastSeq` can be resumed, `hello` says `recovered: true` and `missed`
    /// holds the broadcasts to send after it, in order; otherwise `hello` carries a fresh snapshot.
    public func hello(for identity: Identity, resumingAfter lastSeq: UInt64? = nil, at now: Timestamp)
        -> (hello: ServerEnvelope, missed: [ServerEnvelope]) {
        if let lastSeq, let missed = resume(afterSeq: lastSeq, for: identity) {
            let hello = ServerMessage.Hello(serverTime: now, you: identity, currentSeq: seq, recovered: true, snapshot: nil)
            // Transient counts are not in the history; their current values follow the replay (without a seq), so a
            // resumed client is not left with stale question votes, supporters or viewer count.
            let current = snapshot(for: identity)
            var transient: [ServerEnvelope] = [
                ServerEnvelope(.viewers(.init(count: viewers))),
                ServerEnvelope(.supporters(.init(top: current.supporters))),
            ]
            let votes = Dictionary(current.questions.filter(\.status.isPublic).map { ($0.questionID, $0.votes) }, uniquingKeysWith: { a, _ in a })
            if !votes.isEmpty { transient.append(ServerEnvelope(.questionVotes(.init(votes: votes)))) }
            return (ServerEnvelope(.hello(hello)), missed.map(\.envelope) + transient)
        }
        let hello = ServerMessage.Hello(serverTime: now, you: identity, currentSeq: seq, recovered: false,
                                        snapshot: snapshot(for: identity))
        return (ServerEnvelope(.hello(hello)), [])
    }

    /// The replayable broadcasts after `afterSeq` that `identity` may see, or nil when history no longer covers them
    /// (the client then needs a fresh snapshot).
    public func resume(afterSeq: UInt64, for identity: Identity) -> [RoomBroadcast]? {
        history.messages(after: afterSeq, currentSeq: seq, visibleTo: identity)
    }

    // MARK: Output

    /// Collects the output of one operation.
    struct Effects {
        var ref: String?
        var responseMs: Int64?
        /// The cue the broadcasts of this operation carry (a host action's, or a window end's).
        var cue: CueStamp?
        var records: [Record] = []
        var broadcasts: [RoomBroadcast] = []
    }

    /// Takes a rate-limit token for `key`. The token stays used even if a later check refuses the request
    /// (docs/protocol.md, "Rate limits"): refused requests are not free.
    mutating func charge(_ limiter: WritableKeyPath<Limits, RateLimiter>, for key: String, at now: Timestamp,
                         into effects: inout Effects) throws(InteractionError) {
        try limits[keyPath: limiter].take(for: key, at: now)
    }

    /// Stamps a broadcast with the next seq, keeps it in history if replayable, and adds it to the output.
    mutating func emit(_ message: ServerMessage, to audience: RoomBroadcast.Audience, replayable: Bool = true,
                       into effects: inout Effects) {
        seq &+= 1
        var cue = effects.cue
        if case .tally = message { cue = nil }
        let broadcast = RoomBroadcast(seq: seq, audience: audience, message: message, replayable: replayable, cue: cue)
        if replayable { history.append(broadcast) }
        effects.broadcasts.append(broadcast)
    }

    /// Applies `record` to the state and adds it to the output.
    mutating func commit(_ record: Record, into effects: inout Effects) throws(InteractionError) {
        try apply(record)
        effects.records.append(record)
        noteAudienceMoment(of: record, into: &effects)
    }
}
