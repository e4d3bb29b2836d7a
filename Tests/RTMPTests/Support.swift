import MediaFormats
import NIOCore
import RTMP

/// Hand-built chunk stream bytes, written the way RTMP specification 1.0 §5.3.1 lays them out, so the decoder is tested
/// against the specification and not only against our own encoder.
struct ChunkBytes {
    private(set) var bytes: [UInt8] = []

    /// A one-byte basic header (chunk stream ids 2…63).
    mutating func basic(format: UInt8, csid: UInt8) {
        bytes.append(format << 6 | csid)
    }

    mutating func type0(csid: UInt8, timestamp: UInt32, length: Int, type: UInt8, streamID: UInt32 = 0) {
        basic(format: 0, csid: csid)
        uint24(min(timestamp, 0xFF_FFFF))
        uint24(UInt32(length))
        bytes.append(type)
        bytes += [UInt8(streamID & 0xFF), UInt8((streamID >> 8) & 0xFF), UInt8((streamID >> 16) & 0xFF), UInt8(streamID >> 24)]
        if timestamp >= 0xFF_FFFF { uint32(timestamp) }
    }

    mutating func type1(csid: UInt8, delta: UInt32, length: Int, type: UInt8) {
        basic(format: 1, csid: csid)
        uint24(min(delta, 0xFF_FFFF))
        uint24(UInt32(length))
        bytes.append(type)
        if delta >= 0xFF_FFFF { uint32(delta) }
    }

    mutating func type2(csid: UInt8, delta: UInt32) {
        basic(format: 2, csid: csid)
        uint24(min(delta, 0xFF_FFFF))
        if delta >= 0xFF_FFFF { uint32(delta) }
    }

    mutating func type3(csid: UInt8, extendedTimestamp: UInt32? = nil) {
        basic(format: 3, csid: csid)
        if let extendedTimestamp { uint32(extendedTimestamp) }
    }

    mutating func body(_ payload: [UInt8]) {
        bytes += payload
    }

    mutating func uint24(_ value: UInt32) {
        bytes += [UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    mutating func uint32(_ value: UInt32) {
        bytes += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
}

/// `count` bytes that differ from one position to the next, so a misplaced chunk shows up as a payload mismatch.
func pattern(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) }
}

extension ByteBuffer {
    var bytes: [UInt8] { getBytes(at: readerIndex, length: readableBytes) ?? [] }
}

/// Decodes every whole message in `buffer`, leaving an incomplete chunk in place.
func decodeMessages(_ buffer: inout ByteBuffer, with decoder: inout ChunkDecoder) throws(RTMPError) -> [RTMPMessage] {
    var messages: [RTMPMessage] = []
    var progressed = true
    while progressed {
        if let message = try decoder.decodeChunk(&buffer, progressed: &progressed) { messages.append(message) }
    }
    return messages
}

func encodeChunks(_ messages: [RTMPMessage], chunkSize: Int = 128) -> ByteBuffer {
    var encoder = ChunkEncoder()
    encoder.setChunkSize(chunkSize)
    var out = ByteBuffer()
    for message in messages { encoder.encode(message, into: &out) }
    return out
}

func rtmpMessage(_ type: RTMPMessage.TypeID, csid: UInt32 = 4, timestamp: UInt32 = 0, streamID: UInt32 = 1, payload: [UInt8]) -> RTMPMessage {
    RTMPMessage(typeID: type, messageStreamID: streamID, timestamp: timestamp, chunkStreamID: csid, payload: ByteBuffer(bytes: payload))
}

/// A message's fields as one comparable value.
struct MessageSummary: Equatable, CustomStringConvertible {
    var type: RTMPMessage.TypeID
    var streamID: UInt32
    var timestamp: UInt32
    var csid: UInt32
    var payload: [UInt8]

    init(_ message: RTMPMessage) {
        type = message.typeID
        streamID = message.messageStreamID
        timestamp = message.timestamp
        csid = message.chunkStreamID
        payload = message.payload.bytes
    }

    var description: String { "\(type) csid \(csid) stream \(streamID) @\(timestamp) \(payload.count) bytes" }
}

// MARK: Server session

/// A server session with its chunk decoder, fed whole messages the way the connection handler does.
struct SessionHarness {
    var session = ServerSession()
    var decoder = ChunkDecoder()

    mutating func receive(_ message: RTMPMessage) throws(RTMPError) -> [ServerSession.Action] {
        try session.receive(message, decoder: &decoder)
    }

    /// Reads chunks from `buffer` and hands each message to the session as soon as it is whole, as the connection
    /// handler does (so a Set Chunk Size applies to the very next chunk).
    mutating func feed(_ buffer: inout ByteBuffer) throws(RTMPError) -> (messages: [RTMPMessage], actions: [ServerSession.Action]) {
        var messages: [RTMPMessage] = []
        var actions: [ServerSession.Action] = []
        var progressed = true
        while progressed {
            if let message = try decoder.decodeChunk(&buffer, progressed: &progressed) {
                messages.append(message)
                actions += try receive(message)
            }
        }
        return (messages, actions)
    }

    mutating func command(_ values: [any AMF0ValueConvertible], streamID: UInt32 = 0) throws(RTMPError) -> [ServerSession.Action] {
        try receive(.command(values, streamID: streamID))
    }

    /// connect, releaseStream, FCPublish, createStream and publish, then the key is accepted.
    mutating func startPublishing(key: String = "key") throws(RTMPError) {
        _ = try command(["connect", 1, AMF0Value.object([("app", .string("live"))])])
        _ = try command(["createStream", 2, AMF0Value.null])
        _ = try command(["publish", 3, AMF0Value.null, key, "live"], streamID: 1)
        _ = session.publishAuthorized()
    }

    mutating func video(_ body: FLVTagBody, timestamp: UInt32) throws(RTMPError) -> [ServerSession.Action] {
        var payload = ByteBuffer()
        FLVTagBody.writeVideo(body, into: &payload)
        return try receive(RTMPMessage(typeID: .video, messageStreamID: 1, timestamp: timestamp, chunkStreamID: 6, payload: payload))
    }

    mutating func audio(_ body: FLVTagBody, timestamp: UInt32) throws(RTMPError) -> [ServerSession.Action] {
        var payload = ByteBuffer()
        FLVTagBody.writeAudio(body, into: &payload)
        return try receive(RTMPMessage(typeID: .audio, messageStreamID: 1, timestamp: timestamp, chunkStreamID: 4, payload: payload))
    }
}

extension ServerSession.Action {
    var sent: RTMPMessage? {
        if case let .send(message) = self { return message }
        return nil
    }

    var frame: MediaFrame? {
        if case let .media(.frame(frame)) = self { return frame }
        return nil
    }

    var isClose: Bool {
        if case .close = self { return true }
        return false
    }
}

extension RTMPMessage {
    /// The AMF0 values of a command message.
    var amf0: [AMF0Value] {
        var payload = self.payload
        return (try? AMF0.decodeAll(&payload)) ?? []
    }

    /// The event type and value of a User Control message.
    var userControl: (event: UInt16, value: UInt32)? {
        guard typeID == .userControl, let event = payload.getInteger(at: payload.readerIndex, as: UInt16.self),
              let value = payload.getInteger(at: payload.readerIndex + 2, as: UInt32.self)
        else { return nil }
        return (event, value)
    }

    /// The 32-bit value of a protocol control message (Set Chunk Size, Window Acknowledgement Size, Acknowledgement…).
    var controlValue: UInt32? { payload.getInteger(at: payload.readerIndex, as: UInt32.self) }
}
