import OrderedCollections
import Foundation

/// A room's durable state at one point of its log, so a restart reads a checkpoint and the records after it instead
/// of the room's whole history (the log's compaction).
///
/// It holds what the records built: chat history and the settings records changed, holds, polls with their
/// ballots, quizzes, questions, gift totals, offers, sponsor clicks, the analytics sampler and who acted as staff. What comes from the
/// channel's configuration (limits, catalogue, allowed reactions) is taken from the configuration in force when the
/// room is rebuilt, exactly as a replay would; what is memory only (rate-limit buckets, reaction counts, broadcast
/// history) starts empty, as after a replay.
public struct RoomCheckpoint: Sendable, Codable, Hashable {
    /// Bumped when the encoding changes; a checkpoint of another version is ignored (the room replays its log).
    public static var currentVersion: Int { 1 }

    var version: Int
    var ids: IDGenerator
    var chat: [ChatRoom.Entry]
    var chatOverrides: Room.ChatOverrides
    var moderation: Moderation
    var polls: [Poll]
    var quizzes: [Quiz]
    var qanda: QandA
    var giftTotals: [String: Supporter]
    var offers: Offers
    /// Absent in checkpoints written before sponsor clicks were counted.
    var sponsorClicks: SponsorClicks?
    var sampler: AudienceSampler
    var staffRoles: [String: Role]

    public func encoded() throws -> Data {
        try JSONEncoder().encode(self)
    }

    /// The checkpoint in `data`, or nil when it is unreadable or of another version.
    public static func decode(_ data: Data) -> RoomCheckpoint? {
        guard let checkpoint = try? JSONDecoder().decode(RoomCheckpoint.self, from: data),
              checkpoint.version == currentVersion else { return nil }
        return checkpoint
    }
}

extension Room {
    /// The room's durable state. `ballots` are the live polls' ballots where they are kept outside the room (the
    /// server's ballot boxes); the tallies must already hold every counted ballot.
    public func checkpoint(ballots: [String: [String: Choices]] = [:]) -> RoomCheckpoint {
        var polls = Array(self.polls.values)
        for index in polls.indices {
            if let held = ballots[polls[index].pollID] { polls[index].ballots.merge(held) { _, box in box } }
        }
        return RoomCheckpoint(
            version: RoomCheckpoint.currentVersion, ids: ids, chat: Array(chat.history), chatOverrides: chatOverrides,
            moderation: moderation, polls: polls, quizzes: Array(quizzes.values), qanda: qanda,
            giftTotals: gifts.totals, offers: offers, sponsorClicks: sponsorClicks, sampler: sampler, staffRoles: staffRoles)
    }

    /// Rebuilds a room from a checkpoint and the records committed after it, in order.
    public static func restore(configuration: RoomConfiguration = RoomConfiguration(),
                               paymentHook: any GiftPaymentHook = AcceptAllGifts(),
                               checkpoint: RoomCheckpoint, records: some Sequence<Record>,
                               startingSeq: UInt64) -> (room: Room, skipped: Int) {
        var room = Room(configuration: configuration, paymentHook: paymentHook, startingSeq: startingSeq)
        room.ids = checkpoint.ids
        for entry in checkpoint.chat.suffix(room.chat.historyLimit) { room.chat.history.append(entry) }
        room.chatOverrides = checkpoint.chatOverrides
        if let seconds = checkpoint.chatOverrides.slowModeSeconds { room.chat.slowModeSeconds = seconds }
        if let words = checkpoint.chatOverrides.filterWords { room.chat.filter = WordFilter(words) }
        room.moderation = checkpoint.moderation
        for poll in checkpoint.polls { room.polls[poll.pollID] = poll }
        for quiz in checkpoint.quizzes { room.quizzes[quiz.quizID] = quiz }
        room.qanda = checkpoint.qanda
        room.gifts.totals = checkpoint.giftTotals
        room.offers = checkpoint.offers
        room.sponsorClicks = checkpoint.sponsorClicks ?? SponsorClicks()
        room.sampler = checkpoint.sampler
        room.staffRoles = checkpoint.staffRoles
        var skipped = 0
        for record in records {
            do { try room.apply(record) } catch { skipped += 1 }
        }
        return (room, skipped)
    }
}
