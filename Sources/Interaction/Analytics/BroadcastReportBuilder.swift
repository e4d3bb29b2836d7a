import Foundation
import OrderedCollections

/// Builds one broadcast's `BroadcastReport` from the channel's records, fed in log order with `add`.
///
/// Records before the broadcast's `broadcastStarted` only lend definitions (polls and quizzes are often prepared
/// before going live); records after its `broadcastEnded`, or after the next broadcast's start, are ignored. What
/// counts is what happened inside: a poll launched, a quiz question shown, an offer put up in the broadcast, and the
/// ballots, answers and clicks they got during it. A broadcast whose end was never recorded (the server stopped
/// without a graceful shutdown) ends at its last viewer sample, as in `BroadcastIndex`.
///
/// The builder is a value that can be fed more records later: a live report is the same builder caught up.
public struct BroadcastReportBuilder: Sendable {
    public let broadcastID: String

    enum Phase: Sendable { case before, inside, after }
    var phase = Phase.before
    var startedAt: Timestamp?
    var endedAt: Timestamp?
    /// The newest lifecycle record or viewer sample inside: where a broadcast without an end record ends.
    var lastSignAt: Timestamp?
    var samples: [(at: Timestamp, count: Int)] = []
    var audience = 0
    /// Moments waiting for the viewer sample the room writes right after them.
    var awaiting: [(moment: Moment, at: Timestamp)] = []

    var pollDefinitions: [String: PollDefinition] = [:]
    var quizDefinitions: [String: QuizDefinition] = [:]
    var polls: OrderedDictionary<String, PollEntry> = [:]
    var quizzes: OrderedDictionary<String, QuizEntry> = [:]
    var offers: OrderedDictionary<String, OfferEntry> = [:]
    var sponsorClicks: [SponsoredInteraction: ClickEntry] = [:]
    var chatTimes: [Timestamp] = []
    var reactionCounts: [(at: Timestamp, taps: Int)] = []
    var reactionsByEmoji: [String: Int] = [:]
    var asked = 0
    var answered: Set<String> = []
    var gifts: [GiftEvent] = []

    enum Moment: Sendable, Hashable {
        case poll(String)
        case quizQuestion(String, Int)
        case offer(String)
    }

    struct PollEntry: Sendable {
        var definition: PollDefinition?
        var launchedAt: Timestamp
        var closedAt: Timestamp?
        var viewersAtLaunch: Int
        var ballots: [String: Choices] = [:]
    }

    struct QuizEntry: Sendable {
        var definition: QuizDefinition?
        /// By question index, in the order shown.
        var questions: OrderedDictionary<Int, QuestionEntry> = [:]
    }

    struct QuestionEntry: Sendable {
        var shownAt: Timestamp
        var viewersAtShow: Int
        var answerers: Set<String> = []
        var times: [Int64] = []
        var correct = 0
    }

    struct OfferEntry: Sendable {
        var title: String
        var firstShownAt: Timestamp
        var shows = 1
        var impressions: Int
        var clicks = 0
        var clickers: Set<String> = []
        var clickLog: [BroadcastReport.OfferClick] = []
    }

    /// The clicks on one poll's or quiz's sponsor.
    struct ClickEntry: Sendable {
        var clicks = 0
        var clickers: Set<String> = []
        var clickLog: [BroadcastReport.OfferClick] = []

        mutating func add(_ sub: String, at: Timestamp, mediaTime: Double?) {
            clicks += 1
            clickers.insert(sub)
            if clickLog.count < BroadcastReport.OfferStats.maximumClickLog {
                clickLog.append(.init(sub: sub, at: at.date, mediaTime: mediaTime))
            }
        }
    }

    public init(broadcastID: String) {
        self.broadcastID = broadcastID
    }

    /// Whether the broadcast's start has been seen.
    public var hasStarted: Bool { startedAt != nil }

    /// Takes the next record of the channel's log.
    public mutating func add(_ record: Record) {
        switch phase {
        case .before:
            switch record {
            case .broadcastStarted(let id, let at) where id == broadcastID:
                phase = .inside
                startedAt = at
                lastSignAt = at
            case .pollCreated(let definition, _, _): pollDefinitions[definition.pollID] = definition
            case .quizCreated(let definition, _, _): quizDefinitions[definition.quizID] = definition
            default: break
            }
        case .inside:
            addInside(record)
        case .after:
            break
        }
    }

    private mutating func addInside(_ record: Record) {
        switch record {
        case .broadcastStarted:
            // Another broadcast began: this one never recorded its end.
            phase = .after
        case .broadcastEnded(let id, let at):
            guard id == broadcastID else { return }
            endedAt = at
            lastSignAt = at
            phase = .after
        case .viewerSample(let count, let at):
            audience = count
            lastSignAt = at
            samples.append((at, count))
            for (moment, momentAt) in awaiting where momentAt == at { setAudience(count, of: moment) }
            awaiting.removeAll()
        case .pollCreated(let definition, _, _):
            pollDefinitions[definition.pollID] = definition
        case .quizCreated(let definition, _, _):
            quizDefinitions[definition.quizID] = definition
        case .pollLaunched(let pollID, let at):
            polls[pollID] = PollEntry(definition: pollDefinitions[pollID], launchedAt: at, viewersAtLaunch: audience)
            awaiting.append((.poll(pollID), at))
        case .pollClosed(let pollID, let at):
            polls[pollID]?.closedAt = at
        case .vote(let pollID, let sub, let choices, _):
            polls[pollID]?.ballots[sub] = choices
        case .quizQuestionShown(let quizID, let index, let at):
            if quizzes[quizID] == nil { quizzes[quizID] = QuizEntry(definition: quizDefinitions[quizID]) }
            quizzes[quizID]?.questions[index] = QuestionEntry(shownAt: at, viewersAtShow: audience)
            awaiting.append((.quizQuestion(quizID, index), at))
        case .quizAnswer(let quizID, let index, let sub, _, let choices, let milliseconds, _):
            guard let quiz = quizzes.index(forKey: quizID),
                  let question = quizzes.values[quiz].questions.index(forKey: index),
                  quizzes.values[quiz].questions.values[question].answerers.insert(sub).inserted else { return }
            let isCorrect = quizzes.values[quiz].definition.map { definition in
                definition.questions.indices.contains(index) && definition.questions[index].correct == choices
            } ?? false
            quizzes.values[quiz].questions.values[question].times.append(milliseconds)
            if isCorrect { quizzes.values[quiz].questions.values[question].correct += 1 }
        case .offerShown(let offer, let at):
            if offers[offer.offerID] == nil {
                offers[offer.offerID] = OfferEntry(title: offer.title, firstShownAt: at, impressions: audience)
            } else if var entry = offers[offer.offerID] {
                entry.shows += 1
                entry.impressions = max(entry.impressions, audience)
                offers[offer.offerID] = entry
            }
            awaiting.append((.offer(offer.offerID), at))
        case .offerClicked(let offerID, let sub, let at, let mediaTime):
            offers[offerID]?.clicks += 1
            offers[offerID]?.clickers.insert(sub)
            if let logged = offers[offerID]?.clickLog.count, logged < BroadcastReport.OfferStats.maximumClickLog {
                offers[offerID]?.clickLog.append(.init(sub: sub, at: at.date, mediaTime: mediaTime))
            }
        case .sponsorClicked(let interaction, let sub, let at, let mediaTime):
            // Counted for the polls launched and the quizzes asked in this broadcast, as offer clicks are for its offers.
            let inside = switch interaction {
            case .poll(let pollID): polls[pollID] != nil
            case .quiz(let quizID): quizzes[quizID] != nil
            }
            if inside { sponsorClicks[interaction, default: ClickEntry()].add(sub, at: at, mediaTime: mediaTime) }
        case .chatPosted(let message, let shadow):
            if !shadow { chatTimes.append(message.at) }
        case .reactionsCounted(let counts, let at):
            var taps = 0
            for (emoji, count) in counts where count > 0 {
                reactionsByEmoji[emoji, default: 0] &+= count
                taps &+= count
            }
            reactionCounts.append((at, taps))
        case .questionAsked:
            asked += 1
        case .questionModerated(let questionID, let action, _, _):
            if action == .answer { answered.insert(questionID) }
        case .giftSent(let event):
            gifts.append(event)
        default:
            break
        }
    }

    private mutating func setAudience(_ count: Int, of moment: Moment) {
        switch moment {
        case .poll(let pollID):
            polls[pollID]?.viewersAtLaunch = count
        case .quizQuestion(let quizID, let index):
            quizzes[quizID]?.questions[index]?.viewersAtShow = count
        case .offer(let offerID):
            guard let entry = offers[offerID] else { return }
            offers[offerID]?.impressions = entry.shows == 1 ? count : max(entry.impressions, count)
        }
    }
}
