/// One chat message as broadcast and stored. `messageID` is assigned by the room.
public struct ChatMessage: Sendable, Hashable, Codable {
    public var messageID: String
    public var sub: String
    public var name: String
    public var role: Role
    public var text: String
    public var at: Timestamp

    public init(messageID: String, sub: String, name: String, role: Role, text: String, at: Timestamp) {
        self.messageID = messageID
        self.sub = sub
        self.name = name
        self.role = role
        self.text = text
        self.at = at
    }
}
