import Foundation
import Interaction
import Synchronization

/// A change to the chat, in room order.
public enum ChatUpdate: Sendable, Hashable {
    case message(ChatMessage)
    /// Messages removed (by a moderator, their author or a ban): take them off the screen.
    case deleted(messageIDs: [String])
    /// Slow mode changed: seconds between two messages of one viewer (0: off).
    case slowMode(seconds: Int)
}

/// A change to the Q&A board.
public enum QuestionUpdate: Sendable, Hashable {
    /// A question asked, approved, answered, pinned… (the whole question as it is now).
    case question(Question)
    /// Upvote counts by question id.
    case votes([String: Int])
}

/// A change to the product offers on screen.
public enum OfferUpdate: Sendable, Hashable {
    case shown(OfferCard)
    case hidden(offerID: String)
    /// Click counts (staff only).
    case clicks(ServerMessage.OfferClicks)
    /// Clicks on a poll's or quiz's sponsor (staff only).
    case sponsorClicks(SponsorClicks.ClickCount)
}

/// A gift sent, or the top-supporters board changed.
public enum GiftUpdate: Sendable, Hashable {
    case gift(GiftEvent)
    case supporters([Supporter])
}

/// A room message that sits on the video's timeline, as it is shown (see `CueScheduler`).
public struct CuedMessage: Sendable, Hashable {
    /// The message's wire type (`poll`, `results`, `quiz`, …).
    public var kind: ServerMessage.Kind
    public var cue: CueStamp
    public var envelope: ServerEnvelope
}

/// The typed streams of one `InteractionClient`: each room message goes to the one stream of its kind (and, when it
/// carries a cue, to `cues` too). Each stream keeps the newest `limit` elements for a reader that is slow or starts
/// late, and drops older ones; `viewers` keeps only the newest count. One reader per stream: two tasks iterating
/// the same stream would split its elements between them.
final class RoomStreams: Sendable {
    let sessions: AsyncStream<ServerMessage.Hello>
    let polls: AsyncStream<PollView>
    let tallies: AsyncStream<ServerMessage.TallyView>
    let results: AsyncStream<ServerMessage.TallyView>
    let quizzes: AsyncStream<QuizView>
    let leaderboards: AsyncStream<ServerMessage.LeaderboardView>
    let standings: AsyncStream<Standing>
    let chat: AsyncStream<ChatUpdate>
    let questions: AsyncStream<QuestionUpdate>
    let reactions: AsyncStream<[String: Int]>
    let offers: AsyncStream<OfferUpdate>
    let gifts: AsyncStream<GiftUpdate>
    let viewers: AsyncStream<Int>
    let moderation: AsyncStream<ServerMessage.ModerationNotice>
    let cues: AsyncStream<CuedMessage>

    private let sessionsIn: AsyncStream<ServerMessage.Hello>.Continuation
    private let pollsIn: AsyncStream<PollView>.Continuation
    private let talliesIn: AsyncStream<ServerMessage.TallyView>.Continuation
    private let resultsIn: AsyncStream<ServerMessage.TallyView>.Continuation
    private let quizzesIn: AsyncStream<QuizView>.Continuation
    private let leaderboardsIn: AsyncStream<ServerMessage.LeaderboardView>.Continuation
    private let standingsIn: AsyncStream<Standing>.Continuation
    private let chatIn: AsyncStream<ChatUpdate>.Continuation
    private let questionsIn: AsyncStream<QuestionUpdate>.Continuation
    private let reactionsIn: AsyncStream<[String: Int]>.Continuation
    private let offersIn: AsyncStream<OfferUpdate>.Continuation
    private let giftsIn: AsyncStream<GiftUpdate>.Continuation
    private let viewersIn: AsyncStream<Int>.Continuation
    private let moderationIn: AsyncStream<ServerMessage.ModerationNotice>.Continuation
    private let cuesIn: AsyncStream<CuedMessage>.Continuation
    /// The latest quiz question handed to `quizzes` while asking, and when (this device's clock).
    private let shownQuestion = Mutex<(quizID: String, index: Int, at: Date)?>(nil)

    init(limit: Int) {
        (sessions, sessionsIn) = Self.stream(ServerMessage.Hello.self, limit)
        (polls, pollsIn) = Self.stream(PollView.self, limit)
        (tallies, talliesIn) = Self.stream(ServerMessage.TallyView.self, limit)
        (results, resultsIn) = Self.stream(ServerMessage.TallyView.self, limit)
        (quizzes, quizzesIn) = Self.stream(QuizView.self, limit)
        (leaderboards, leaderboardsIn) = Self.stream(ServerMessage.LeaderboardView.self, limit)
        (standings, standingsIn) = Self.stream(Standing.self, limit)
        (chat, chatIn) = Self.stream(ChatUpdate.self, limit)
        (questions, questionsIn) = Self.stream(QuestionUpdate.self, limit)
        (reactions, reactionsIn) = Self.stream([String: Int].self, limit)
        (offers, offersIn) = Self.stream(OfferUpdate.self, limit)
        (gifts, giftsIn) = Self.stream(GiftUpdate.self, limit)
        (moderation, moderationIn) = Self.stream(ServerMessage.ModerationNotice.self, limit)
        (cues, cuesIn) = Self.stream(CuedMessage.self, limit)
        (viewers, viewersIn) = AsyncStream.makeStream(of: Int.self, bufferingPolicy: .bufferingNewest(limit > 0 ? 1 : 0))
    }

    private static func stream<Element>(_: Element.Type, _ limit: Int) -> (AsyncStream<Element>, AsyncStream<Element>.Continuation) {
        AsyncStream.makeStream(of: Element.self, bufferingPolicy: .bufferingNewest(max(0, limit)))
    }

    /// Hands `envelope` to its stream. Replies (`ack`, `error`, `pong`) and `goaway` have none.
    func route(_ envelope: ServerEnvelope) {
        if let cue = envelope.cue {
            cuesIn.yield(CuedMessage(kind: envelope.message.kind, cue: cue, envelope: envelope))
        }
        switch envelope.message {
        case .hello(let hello): sessionsIn.yield(hello)
        case .poll(let poll): pollsIn.yield(poll)
        case .tally(let tally): talliesIn.yield(tally)
        case .results(let results): resultsIn.yield(results)
        case .quiz(let quiz):
            if quiz.phase == .asking, let question = quiz.question {
                shownQuestion.withLock { shown in
                    if shown?.quizID != quiz.quizID || shown?.index != question.index { shown = (quiz.quizID, question.index, Date()) }
                }
            }
            quizzesIn.yield(quiz)
        case .leaderboard(let board): leaderboardsIn.yield(board)
        case .standing(let standing): standingsIn.yield(standing)
        case .chat(let message): chatIn.yield(.message(message))
        case .chatDeleted(let deleted): chatIn.yield(.deleted(messageIDs: deleted.messageIDs))
        case .chatSettings(let settings): chatIn.yield(.slowMode(seconds: settings.slowModeSeconds))
        case .question(let question): questionsIn.yield(.question(question))
        case .questionVotes(let votes): questionsIn.yield(.votes(votes.votes))
        case .reactions(let counts): reactionsIn.yield(counts.counts)
        case .offer(let card): offersIn.yield(.shown(card))
        case .offerHidden(let target): offersIn.yield(.hidden(offerID: target.offerID))
        case .offerClicks(let clicks): offersIn.yield(.clicks(clicks))
        case .sponsorClicks(let clicks): offersIn.yield(.sponsorClicks(clicks))
        case .gift(let gift): giftsIn.yield(.gift(gift))
        case .supporters(let board): giftsIn.yield(.supporters(board.top))
        case .viewers(let count): viewersIn.yield(count.count)
        case .moderation(let notice): moderationIn.yield(notice)
        case .ack, .error, .pong, .goaway: break
        }
    }

    /// When `question` of `quizID` was handed to `quizzes`, if it is the latest question handed over.
    func shownAt(quizID: String, question: Int) -> Date? {
        shownQuestion.withLock { shown in shown.flatMap { $0.quizID == quizID && $0.index == question ? $0.at : nil } }
    }

    /// Ends every stream (the client closed or gave up reconnecting).
    func finish() {
        sessionsIn.finish(); pollsIn.finish(); talliesIn.finish(); resultsIn.finish(); quizzesIn.finish()
        leaderboardsIn.finish(); standingsIn.finish(); chatIn.finish(); questionsIn.finish(); reactionsIn.finish()
        offersIn.finish(); giftsIn.finish(); viewersIn.finish(); moderationIn.finish(); cuesIn.finish()
    }
}
