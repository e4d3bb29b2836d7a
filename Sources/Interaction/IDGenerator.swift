/// Issues the room's identifiers: a letter for the kind ("m" message, "p" poll, "z" quiz, "q" question, "g" gift)
/// followed by a room-wide counter. Replay observes every id it sees so that new ids never collide with old ones.
public struct IDGenerator: Sendable, Hashable, Codable {
    public private(set) var last: UInt64 = 0

    public init() {}

    public mutating func next(_ prefix: Character) -> String {
        last &+= 1
        return "\(prefix)\(last)"
    }

    /// Moves the counter past an id read back from a record.
    public mutating func observe(_ id: String) {
        guard let number = UInt64(id.drop { !$0.isNumber }) else { return }
        last = max(last, number)
    }
}
