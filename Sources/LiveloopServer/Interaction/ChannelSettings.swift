import Foundation
import Interaction

/// What an operator can set per channel for its room (`GET/PUT /api/v1/channels/CHANNEL/settings`). Fields left out
/// keep their defaults. Rate limits are token buckets per user; `rateLimits: null` switches them all off.
public struct ChannelSettings: Codable, Sendable, Equatable {
    public struct RateLimits: Codable, Sendable, Equatable {
        public var chat: RateLimit?
        public var reactions: RateLimit?
        public var votes: RateLimit?
        public var questions: RateLimit?
        public var upvotes: RateLimit?
        public var gifts: RateLimit?
        public var clicks: RateLimit?
    }

    public var allowAnonymous: Bool?
    public var rateLimits: RateLimits??
    public var slowModeSeconds: Int?
    public var filterWords: [String]?
    public var allowedReactions: [String]?
    public var questionsNeedApproval: Bool?
    public var ballotChangesAllowed: Bool?
    public var maxMessageLength: Int?
    public var gifts: [GiftItem]?
    /// The latency behind ingest the channel's players hold, in seconds, per path; give both the same value to put every
    /// viewer in lock-step. Unset: `defaultSyncTargets(runsQuizzes:)`.
    public var syncTargets: SyncTargets?
    /// The largest display latency (seconds) the server believes a viewer's report up to; answer windows stay open
    /// this long after their end for late viewers. Default: the larger target + 1.5 s, at least 3 s.
    public var maxDisplayLatency: Double?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case allowAnonymous, rateLimits, slowModeSeconds, filterWords, allowedReactions, questionsNeedApproval
        case ballotChangesAllowed, maxMessageLength, gifts, syncTargets, maxDisplayLatency
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        allowAnonymous = try c.decodeIfPresent(Bool.self, forKey: .allowAnonymous)
        // Absent: defaults; null: switched off; an object: these limits.
        if c.contains(.rateLimits) {
            rateLimits = .some(try c.decodeNil(forKey: .rateLimits) ? nil : try c.decode(RateLimits.self, forKey: .rateLimits))
        }
        slowModeSeconds = try c.decodeIfPresent(Int.self, forKey: .slowModeSeconds)
        filterWords = try c.decodeIfPresent([String].self, forKey: .filterWords)
        allowedReactions = try c.decodeIfPresent([String].self, forKey: .allowedReactions)
        questionsNeedApproval = try c.decodeIfPresent(Bool.self, forKey: .questionsNeedApproval)
        ballotChangesAllowed = try c.decodeIfPresent(Bool.self, forKey: .ballotChangesAllowed)
        maxMessageLength = try c.decodeIfPresent(Int.self, forKey: .maxMessageLength)
        gifts = try c.decodeIfPresent([GiftItem].self, forKey: .gifts)
        syncTargets = try c.decodeIfPresent(SyncTargets.self, forKey: .syncTargets)
        maxDisplayLatency = try c.decodeIfPresent(Double.self, forKey: .maxDisplayLatency)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(allowAnonymous, forKey: .allowAnonymous)
        if let rateLimits {
            if let limits = rateLimits { try c.encode(limits, forKey: .rateLimits) } else { try c.encodeNil(forKey: .rateLimits) }
        }
        try c.encodeIfPresent(slowModeSeconds, forKey: .slowModeSeconds)
        try c.encodeIfPresent(filterWords, forKey: .filterWords)
        try c.encodeIfPresent(allowedReactions, forKey: .allowedReactions)
        try c.encodeIfPresent(questionsNeedApproval, forKey: .questionsNeedApproval)
        try c.encodeIfPresent(ballotChangesAllowed, forKey: .ballotChangesAllowed)
        try c.encodeIfPresent(maxMessageLength, forKey: .maxMessageLength)
        try c.encodeIfPresent(gifts, forKey: .gifts)
        try c.encodeIfPresent(syncTargets, forKey: .syncTargets)
        try c.encodeIfPresent(maxDisplayLatency, forKey: .maxDisplayLatency)
    }

    /// Refuses values no room should run with.
    public func validate() throws(APIError) {
        if let s = slowModeSeconds, !(0...3600).contains(s) { throw .badRequest("slowModeSeconds must be 0–3600") }
        if let m = maxMessageLength, !(1...2000).contains(m) { throw .badRequest("maxMessageLength must be 1–2000") }
        if let words = filterWords, words.count > 1000 || words.contains(where: { $0.count > 64 }) {
            throw .badRequest("filterWords: at most 1000 words of at most 64 characters")
        }
        if let reactions = allowedReactions, reactions.isEmpty || reactions.count > 32 || reactions.contains(where: { $0.count > 8 }) {
            throw .badRequest("allowedReactions: 1–32 emoji")
        }
        if let gifts, gifts.count > 100 || gifts.contains(where: { $0.giftID.isEmpty || $0.value < 0 || $0.name.count > 64 }) {
            throw .badRequest("gifts: at most 100, each with an id, a name of at most 64 characters and a value ≥ 0")
        }
        if let targets = syncTargets, ![targets.ws, targets.hls].allSatisfy({ (0.2...10).contains($0) }) {
            throw .badRequest("syncTargets: ws and hls must be 0.2–10 seconds")
        }
        if let bound = maxDisplayLatency, !(0.5...30).contains(bound) {
            throw .badRequest("maxDisplayLatency must be 0.5–30 seconds")
        }
        if let limits = rateLimits ?? nil {
            for limit in [limits.chat, limits.reactions, limits.votes, limits.questions, limits.upvotes, limits.gifts, limits.clicks] {
                if let limit, limit.burst < 1 || limit.perSecond <= 0 { throw .badRequest("a rate limit needs burst ≥ 1 and perSecond > 0") }
            }
        }
    }

    /// Every setting as a room with `configuration` runs it, defaults included: what `GET …/settings` shows.
    public init(effective configuration: RoomConfiguration) {
        allowAnonymous = configuration.allowsAnonymous
        let limits = configuration.rateLimits
        if limits == .disabled {
            rateLimits = .some(nil)
        } else {
            rateLimits = .some(RateLimits(chat: limits.chat, reactions: limits.reactions, votes: limits.votes,
                                          questions: limits.questions, upvotes: limits.upvotes, gifts: limits.gifts,
                                          clicks: limits.clicks))
        }
        slowModeSeconds = configuration.slowModeSeconds
        filterWords = configuration.filterWords
        allowedReactions = configuration.allowedReactions
        questionsNeedApproval = configuration.questionsNeedApproval
        ballotChangesAllowed = configuration.ballotChangesAllowed
        maxMessageLength = configuration.maxMessageLength
        gifts = configuration.gifts
        syncTargets = configuration.syncTargets
        maxDisplayLatency = Double(configuration.maxDisplayLatency.wholeMilliseconds) / 1000
    }

    /// The sync targets of a channel whose settings set none. A channel that runs quizzes (its rundown holds one) is in
    /// lock-step at the LL-HLS target, so every viewer sees each question at the same moment whatever their path; the
    /// others keep the split defaults, where WebSocket viewers (0.5 s) see each cue about a second before LL-HLS
    /// viewers (1.5 s).
    public static func defaultSyncTargets(runsQuizzes: Bool) -> SyncTargets {
        let split = SyncTargets()
        return runsQuizzes ? .lockstep(split.hls) : split
    }

    /// Whether a studio rundown document (`PUT …/rundown`) holds a quiz; false for anything unreadable.
    public static func runsQuizzes(rundown: Data?) -> Bool {
        guard let rundown, let document = try? JSONSerialization.jsonObject(with: rundown) as? [String: Any],
              let items = document["items"] as? [Any] else { return false }
        return items.contains { ($0 as? [String: Any])?["kind"] as? String == "quiz" }
    }

    /// The room configuration these settings give; `runsQuizzes` picks the sync targets when none are set.
    public func roomConfiguration(allowAnonymousDefault: Bool, runsQuizzes: Bool = false) -> RoomConfiguration {
        var configuration = RoomConfiguration()
        configuration.allowsAnonymous = allowAnonymous ?? allowAnonymousDefault
        if let rateLimits {
            if let limits = rateLimits {
                let defaults = RoomConfiguration.RateLimits()
                configuration.rateLimits = RoomConfiguration.RateLimits(
                    chat: limits.chat ?? defaults.chat, reactions: limits.reactions ?? defaults.reactions,
                    votes: limits.votes ?? defaults.votes, questions: limits.questions ?? defaults.questions,
                    upvotes: limits.upvotes ?? defaults.upvotes, gifts: limits.gifts ?? defaults.gifts,
                    clicks: limits.clicks ?? defaults.clicks
                )
            } else {
                configuration.rateLimits = .disabled
            }
        }
        if let slowModeSeconds { configuration.slowModeSeconds = slowModeSeconds }
        if let filterWords { configuration.filterWords = filterWords }
        if let allowedReactions { configuration.allowedReactions = allowedReactions }
        if let questionsNeedApproval { configuration.questionsNeedApproval = questionsNeedApproval }
        if let ballotChangesAllowed { configuration.ballotChangesAllowed = ballotChangesAllowed }
        if let maxMessageLength { configuration.maxMessageLength = maxMessageLength }
        if let gifts { configuration.gifts = gifts }
        configuration.syncTargets = syncTargets ?? Self.defaultSyncTargets(runsQuizzes: runsQuizzes)
        let bound = maxDisplayLatency ?? max(3, max(configuration.syncTargets.ws, configuration.syncTargets.hls) + 1.5)
        configuration.maxDisplayLatency = .milliseconds(Int64((bound * 1000).rounded()))
        return configuration
    }
}
