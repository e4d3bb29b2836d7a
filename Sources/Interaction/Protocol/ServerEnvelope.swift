import Foundation

/// A server frame: `{"v":1,"type":…,"id":…,"seq":…, …payload}`. Encode once per broadcast and write the same bytes
/// to every connection in its audience.
public struct ServerEnvelope: Sendable, Hashable, Codable {
    /// The request this answers (`ack`, `error`, `pong`).
    public var id: String?
    /// The room sequence number (broadcasts only).
    public var seq: UInt64?
    /// Where the host action that produced this message sits on the video's timeline: apply it when the playhead
    /// reaches `cue.at` (see `CueStamp`). Absent for everything else (chat, counts, replies).
    public var cue: CueStamp?
    public var message: ServerMessage

    public init(id: String? = nil, seq: UInt64? = nil, cue: CueStamp? = nil, _ message: ServerMessage) {
        self.id = id
        self.seq = seq
        self.cue = cue
        self.message = message
    }

    enum HeaderKeys: String, CodingKey {
        case v, type, id, seq, cue
    }

    public init(from decoder: any Decoder) throws {
        let header = try decoder.container(keyedBy: HeaderKeys.self)
        let version = try header.decodeIfPresent(Int.self, forKey: .v) ?? ClientRequest.protocolVersion
        guard version == ClientRequest.protocolVersion else {
            throw DecodingError.dataCorruptedError(forKey: .v, in: header, debugDescription: "unsupported version \(version)")
        }
        let type = try header.decode(String.self, forKey: .type)
        guard let kind = ServerMessage.Kind(rawValue: type) else {
            throw DecodingError.dataCorruptedError(forKey: .type, in: header, debugDescription: "unknown type \(type)")
        }
        id = try header.decodeIfPresent(String.self, forKey: .id)
        seq = try header.decodeIfPresent(UInt64.self, forKey: .seq)
        cue = try header.decodeIfPresent(CueStamp.self, forKey: .cue)
        message = try ServerMessage.decode(kind, from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var header = encoder.container(keyedBy: HeaderKeys.self)
        try header.encode(ClientRequest.protocolVersion, forKey: .v)
        try header.encode(message.kind.rawValue, forKey: .type)
        try header.encodeIfPresent(id, forKey: .id)
        try header.encodeIfPresent(seq, forKey: .seq)
        try header.encodeIfPresent(cue, forKey: .cue)
        try message.encodePayload(to: encoder)
    }

    /// The JSON text frame.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Decodes a JSON text frame (for clients and tests).
    public static func decode(_ data: Data) throws -> ServerEnvelope {
        try JSONDecoder().decode(ServerEnvelope.self, from: data)
    }
}
