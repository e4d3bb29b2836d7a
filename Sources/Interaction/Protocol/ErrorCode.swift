/// The stable, machine-readable codes carried by `error` frames. The raw values are part of the wire protocol:
/// never rename one; add new ones at the end.
public enum ErrorCode: String, Sendable, Hashable, Codable, CaseIterable {
    /// Malformed JSON, a missing or mistyped field, or a value out of range.
    case badRequest = "bad_request"
    /// The envelope's `type` is not a known client message.
    case unknownType = "unknown_type"
    /// The envelope's `v` is not a protocol version this server speaks.
    case unsupportedVersion = "unsupported_version"
    /// The frame is larger than the server accepts.
    case tooLarge = "too_large"
    /// The sender's role may not do this.
    case forbidden
    /// A token bucket for the sender is empty.
    case rateLimited = "rate_limited"
    /// Slow mode: the sender posted too recently.
    case slowMode = "slow_mode"
    /// The message contains a filtered word.
    case filtered
    /// The sender is banned from the channel.
    case banned
    /// The sender is timed out.
    case timedOut = "timed_out"
    /// The poll (or quiz, or other target) does not exist.
    case notFound = "not_found"
    /// The poll is not live (draft, closed or past its deadline).
    case pollClosed = "poll_closed"
    /// A choice index that the poll or question does not have.
    case unknownOption = "unknown_option"
    /// A second ballot or upvote where changes are not allowed.
    case alreadyVoted = "already_voted"
    /// The quiz question is not open for this viewer (not shown yet, closed, or their window has passed).
    case answerClosed = "answer_closed"
    /// A second answer to the same quiz question.
    case alreadyAnswered = "already_answered"
    /// A host action that the target's lifecycle does not allow now (e.g. launching a closed poll).
    case invalidState = "invalid_state"
    /// The emoji is not in the channel's allowed set.
    case reactionNotAllowed = "reaction_not_allowed"
    /// The payment hook declined a gift.
    case paymentDeclined = "payment_declined"
    /// An identifier that already exists (e.g. an offer id reused with `offer.show` is fine; a duplicate poll is not).
    case conflict
    /// The database is away: the request was not stored (nothing of it happened). Reads, pings and reactions go on;
    /// retry once the server takes writes again.
    case unavailable
}
