import NIOCore

/// A whole RTMP message, reassembled from its chunks (RTMP specification 1.0, §6.1).
public struct RTMPMessage: Sendable {
    /// Message type ids (§5.4, §7.1).
    public enum TypeID: UInt8, Sendable {
        case setChunkSize = 1
        case abort = 2
        case acknowledgement = 3
        case userControl = 4
        case windowAcknowledgementSize = 5
        case setPeerBandwidth = 6
        case audio = 8
        case video = 9
        case dataAMF3 = 15
        case sharedObjectAMF3 = 16
        case commandAMF3 = 17
        case dataAMF0 = 18
        case sharedObjectAMF0 = 19
        case commandAMF0 = 20
        case aggregate = 22
    }

    public var typeID: TypeID
    public var messageStreamID: UInt32
    /// Milliseconds, as on the wire (32 bits, wraps after ~49.7 days).
    public var timestamp: UInt32
    public var chunkStreamID: UInt32
    public var payload: ByteBuffer

    public init(typeID: TypeID, messageStreamID: UInt32 = 0, timestamp: UInt32 = 0, chunkStreamID: UInt32, payload: ByteBuffer) {
        self.typeID = typeID
        self.messageStreamID = messageStreamID
        self.timestamp = timestamp
        self.chunkStreamID = chunkStreamID
        self.payload = payload
    }
}

/// Chunk stream ids we send on, following the habit of Adobe's servers and librtmp.
public enum ChunkStreamID {
    public static let control: UInt32 = 2
    public static let command: UInt32 = 3
    public static let audio: UInt32 = 4
    public static let video: UInt32 = 6
    public static let data: UInt32 = 5
}

/// User Control event types (§7.1.7).
public enum UserControlEvent: UInt16, Sendable {
    case streamBegin = 0
    case streamEOF = 1
    case streamDry = 2
    case setBufferLength = 3
    case streamIsRecorded = 4
    case pingRequest = 6
    case pingResponse = 7
}

extension RTMPMessage {
    static func control(_ type: TypeID, _ value: UInt32, extra: UInt8? = nil) -> RTMPMessage {
        var payload = ByteBuffer()
        payload.writeInteger(value)
        if let extra { payload.writeInteger(extra) }
        return RTMPMessage(typeID: type, chunkStreamID: ChunkStreamID.control, payload: payload)
    }

    static func userControl(_ event: UserControlEvent, _ value: UInt32) -> RTMPMessage {
        var payload = ByteBuffer()
        payload.writeInteger(event.rawValue)
        payload.writeInteger(value)
        return RTMPMessage(typeID: .userControl, chunkStreamID: ChunkStreamID.control, payload: payload)
    }

    /// An AMF0 command message (§7.2.1).
    public static func command(_ values: [any AMF0ValueConvertible], streamID: UInt32 = 0) -> RTMPMessage {
        var payload = ByteBuffer()
        for value in values { AMF0.encode(value.amf0, into: &payload) }
        return RTMPMessage(typeID: .commandAMF0, messageStreamID: streamID, chunkStreamID: ChunkStreamID.command, payload: payload)
    }
}

import MediaFormats

/// Lets command arguments be written as Swift literals.
public protocol AMF0ValueConvertible {
    var amf0: AMF0Value { get }
}

extension AMF0Value: AMF0ValueConvertible { public var amf0: AMF0Value { self } }
extension String: AMF0ValueConvertible { public var amf0: AMF0Value { .string(self) } }
extension Double: AMF0ValueConvertible { public var amf0: AMF0Value { .number(self) } }
extension Int: AMF0ValueConvertible { public var amf0: AMF0Value { .number(Double(self)) } }
extension Bool: AMF0ValueConvertible { public var amf0: AMF0Value { .boolean(self) } }
