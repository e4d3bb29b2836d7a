import DequeModule

/// The chat of one room: bounded history, slow mode and word filter settings, and per-user last-post times.
///
/// Visibility of shadow-banned messages is kept per entry: a shadow message is in the history but only its author
/// sees it in snapshots, and it is broadcast to the author alone.
public struct ChatRoom: Sendable, Hashable {
    /// A stored message and whether it was posted under a shadow ban.
    public struct Entry: Sendable, Hashable, Codable {
        public var message: ChatMessage
        public var shadow: Bool
    }

    public internal(set) var history: Deque<Entry> = []
    public let historyLimit: Int
    /// Minimum seconds between two messages of one viewer; 0 turns slow mode off. Staff are exempt.
    public var slowModeSeconds: Int
    public var filter: WordFilter
    private var lastPostAt: [String: Timestamp] = [:]

    public init(historyLimit: Int, slowModeSeconds: Int = 0, filter: WordFilter = WordFilter()) {
        self.historyLimit = max(historyLimit, 1)
        self.slowModeSeconds = slowModeSeconds
        self.filter = filter
    }

    /// Throws `slow_mode` if `sub` posted less than `slowModeSeconds` before `now`.
    public func checkSlowMode(for sub: String, at now: Timestamp) throws(InteractionError) {
        guard slowModeSeconds > 0, let last = lastPostAt[sub] else { return }
        let next = last + .seconds(slowModeSeconds)
        if now < next {
            let waitSeconds = (now.duration(to: next).wholeMilliseconds + 999) / 1000
            throw InteractionError(.slowMode, "slow mode: wait \(waitSeconds)s")
        }
    }

    /// Stores a message, dropping the oldest beyond the limit.
    public mutating func post(_ message: ChatMessage, shadow: Bool) {
        history.append(Entry(message: message, shadow: shadow))
        while history.count > historyLimit { history.removeFirst() }
        lastPostAt[message.sub] = message.at
    }

    /// The message with this id, if still in the history.
    public func entry(_ messageID: String) -> Entry? {
        history.last { $0.message.messageID == messageID }
    }

    /// Removes a message from the history.
    public mutating func delete(_ messageID: String) throws(InteractionError) {
        guard let index = history.lastIndex(where: { $0.message.messageID == messageID }) else {
            throw .notFound("message", messageID)
        }
        history.remove(at: index)
    }

    /// Removes every message of `sub` (after a ban) and returns their ids.
    public mutating func purge(_ sub: String) -> [String] {
        let ids = history.filter { $0.message.sub == sub }.map(\.message.messageID)
        if !ids.isEmpty { history.removeAll { $0.message.sub == sub } }
        return ids
    }

    /// The last `limit` messages that `viewer` may see (others' shadow messages are hidden).
    public func recent(_ limit: Int, visibleTo viewer: String) -> [ChatMessage] {
        var result: [ChatMessage] = []
        for entry in history.reversed() where !entry.shadow || entry.message.sub == viewer {
            result.append(entry.message)
            if result.count >= limit { break }
        }
        return result.reversed()
    }

    /// Forgets last-post times older than the slow-mode interval (bounded memory for large audiences).
    public mutating func pruneSlowMode(at now: Timestamp) {
        let horizon = now + .seconds(-max(slowModeSeconds, 0))
        lastPostAt = lastPostAt.filter { $0.value > horizon }
    }
}
