import Foundation
import Interaction

/// What a viewer does in the room, one method a request: each waits for the server's `ack` and returns what it
/// created, or throws `InteractionClientError.refused` with the stable error code (docs/protocol.md "Error codes"),
/// e.g. `already_voted`, `poll_closed`, `answer_closed`, `slow_mode`, `rate_limited`.
extension InteractionClient {
    /// Votes in a poll: one option index for a single-choice poll, one or more for a multiple-choice one.
    public func vote(poll pollID: String, choices: [Int]) async throws(InteractionClientError) {
        _ = try await acknowledge(.pollVote(.init(pollID: pollID, choices: choices)))
    }

    /// Votes for one option.
    public func vote(poll pollID: String, choice: Int) async throws(InteractionClientError) {
        try await vote(poll: pollID, choices: [choice])
    }

    /// Answers the quiz's current question. `shownAt` is when the question appeared on this viewer's screen in server
    /// time; left out, the client sends the moment it delivered that question to `quizzes` (with a `playhead`, the
    /// moment the video reached it). Returns the response time the server judged, from that display.
    @discardableResult
    public func answer(quiz quizID: String, question: Int, choices: [Int], shownAt: Timestamp? = nil)
        async throws(InteractionClientError) -> Duration? {
        let displayed = shownAt ?? questionShownAt(quizID: quizID, question: question)
        let ack = try await acknowledge(.quizAnswer(.init(quizID: quizID, question: question, choices: choices, shownAt: displayed)))
        return ack.responseMs.map { .milliseconds($0) }
    }

    /// Sends a chat message; returns its `messageID`.
    @discardableResult
    public func chat(_ text: String) async throws(InteractionClientError) -> String? {
        try await acknowledge(.chatSend(.init(text: text))).ref
    }

    /// Deletes one of your own chat messages (staff: any message).
    public func deleteChat(messageID: String) async throws(InteractionClientError) {
        _ = try await acknowledge(.chatDelete(.init(messageID: messageID)))
    }

    /// Asks a question on the Q&A board; returns its `questionID` (it may wait for a moderator's approval).
    @discardableResult
    public func ask(_ text: String) async throws(InteractionClientError) -> String? {
        try await acknowledge(.qaAsk(.init(text: text))).ref
    }

    /// Upvotes a question (once per viewer).
    public func upvote(question questionID: String) async throws(InteractionClientError) {
        _ = try await acknowledge(.qaUpvote(.init(questionID: questionID)))
    }

    /// Sends a gift from the catalogue (`hello.snapshot.gifts`); `receipt` goes to the channel's payment hook.
    /// Returns the gift event's id.
    @discardableResult
    public func sendGift(_ giftID: String, count: Int = 1, receipt: String? = nil) async throws(InteractionClientError) -> String? {
        try await acknowledge(.giftSend(.init(giftID: giftID, count: count, receipt: receipt))).ref
    }

    /// Records a click on an offer card, with where the playhead was in media time.
    public func clickOffer(_ offerID: String, mediaTime: Double? = nil) async throws(InteractionClientError) {
        _ = try await acknowledge(.offerClick(.init(offerID: offerID, mediaTime: mediaTime)))
    }

    /// Records a click on the sponsor of a poll or quiz (`.poll(id)`, `.quiz(id)`), with where the playhead was.
    public func clickSponsor(_ interaction: SponsoredInteraction, mediaTime: Double? = nil) async throws(InteractionClientError) {
        _ = try await acknowledge(.sponsorClick(.init(interaction, mediaTime: mediaTime)))
    }

    /// One tap of a reaction. Fire and forget — taps are counted per tick and come back summed in `reactions`; an
    /// emoji outside the channel's `allowedReactions` (from the latest snapshot) is refused here without sending.
    public func react(_ emoji: String) throws(InteractionClientError) {
        if let allowed = hello?.snapshot?.allowedReactions, !allowed.isEmpty, !allowed.contains(emoji) {
            throw .refused(.init(code: .reactionNotAllowed, message: "\(emoji) is not one of this channel's reactions"))
        }
        do {
            try post(.reaction(.init(emoji: emoji)))
        } catch {
            throw Self.typed(error)
        }
    }

    /// `perform`, with its errors as `InteractionClientError`.
    func acknowledge(_ message: ClientMessage) async throws(InteractionClientError) -> ServerMessage.Ack {
        do {
            return try await perform(message)
        } catch {
            throw Self.typed(error)
        }
    }

    static func typed(_ error: any Error) -> InteractionClientError {
        switch error {
        case let error as InteractionClientError: error
        case is CancellationError: .cancelled
        default: .unreachable("\(error)")
        }
    }
}
