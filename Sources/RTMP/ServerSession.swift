import MediaFormats
import NIOCore

/// What a publishing connection hands to the rest of the server.
public enum RTMPMediaEvent: Sendable {
    /// `onMetaData` from `@setDataFrame`: width, height, framerate, encoder…
    case metadata([(String, AMF0Value)])
    case codec(CodecConfiguration)
    case frame(MediaFrame)
}

/// The command and message state machine of one server-side RTMP connection (RTMP specification 1.0, §7.2; the
/// `releaseStream`/`FCPublish`/`FCUnpublish` calls that ffmpeg and OBS add are answered as Adobe's servers do).
///
/// It takes whole messages and returns actions for the connection handler to perform; it does no I/O and reads no
/// clock, so every exchange is testable without a socket.
public struct ServerSession: Sendable {
    public enum State: Sendable, Equatable {
        case awaitingConnect
        case connected(app: String)
        /// `publish` was asked; the handler is checking the stream key.
        case authorizing(app: String, streamID: UInt32)
        case publishing(app: String, streamID: UInt32)
        case closed
    }

    public enum Action: Sendable {
        case send(RTMPMessage)
        /// Send the Set Chunk Size message (already queued in a `.send`) and switch the encoder to this size.
        case useOutgoingChunkSize(Int)
        /// Check the stream key; answer with `publishAuthorized()` or `publishRefused(…)`.
        case authorize(app: String, streamKey: String)
        case media(RTMPMediaEvent)
        /// The publisher stopped (FCUnpublish / deleteStream / closeStream).
        case unpublished
        case close
    }

    public static let outgoingChunkSize = 4096
    public static let windowAcknowledgementSize: UInt32 = 2_500_000

    public private(set) var state: State = .awaitingConnect
    private var streamIDs: UInt32 = 0
    private var control = ProtocolControl()
    private var videoClock = TimestampExtender()
    private var audioClock = TimestampExtender()

    public init() {}

    /// Counts bytes read from the socket and returns an Acknowledgement when the peer's window is reached (§5.4.3).
    public mutating func received(bytes: Int) -> RTMPMessage? {
        control.received(bytes: bytes)
    }

    /// Handles one message from the peer.
    public mutating func receive(_ message: RTMPMessage, decoder: inout ChunkDecoder) throws(RTMPError) -> [Action] {
        if let replies = try control.handle(message, decoder: &decoder) {
            return replies.map { .send($0) }
        }
        var payload = message.payload
        switch message.typeID {
        case .setChunkSize, .abort, .acknowledgement, .windowAcknowledgementSize, .setPeerBandwidth, .userControl:
            return []  // handled by `control` above
        case .commandAMF0:
            return try command(payload, streamID: message.messageStreamID)
        case .commandAMF3:
            // An AMF3 command message is AMF0 behind a leading format byte.
            payload.moveReaderIndex(forwardBy: min(1, payload.readableBytes))
            return try command(payload, streamID: message.messageStreamID)
        case .dataAMF0, .dataAMF3:
            if message.typeID == .dataAMF3 { payload.moveReaderIndex(forwardBy: min(1, payload.readableBytes)) }
            return try data(payload)
        case .audio:
            return try audio(payload, timestamp: message.timestamp)
        case .video:
            return try video(payload, timestamp: message.timestamp)
        case .sharedObjectAMF0, .sharedObjectAMF3, .aggregate:
            return []
        }
    }

    /// The stream key was accepted.
    public mutating func publishAuthorized() -> [Action] {
        guard case let .authorizing(app, streamID) = state else { return [] }
        state = .publishing(app: app, streamID: streamID)
        return [
            .send(.userControl(.streamBegin, streamID)),
            .send(Self.status(level: "status", code: "NetStream.Publish.Start", description: "Publishing.", streamID: streamID)),
        ]
    }

    /// The stream key was refused (`NetStream.Publish.BadName` for an unknown key, `…Publish.Denied` for a busy channel).
    public mutating func publishRefused(code: String, description: String) -> [Action] {
        guard case let .authorizing(_, streamID) = state else { return [.close] }
        state = .closed
        return [.send(Self.status(level: "error", code: code, description: description, streamID: streamID)), .close]
    }

    private mutating func command(_ payload: ByteBuffer, streamID: UInt32) throws(RTMPError) -> [Action] {
        var payload = payload
        let values: [AMF0Value]
        do {
            values = try AMF0.decodeAll(&payload)
        } catch {
            throw .malformedAMF0("\(error)")
        }
        guard case let .string(name)? = values.first else { throw .malformedAMF0("command without a name") }
        let transaction = values.count > 1 ? (values[1].numberValue ?? 0) : 0
        let arguments = Array(values.dropFirst(3))

        switch (name, state) {
        case ("connect", .awaitingConnect):
            let object = values.count > 2 ? values[2] : .null
            let app = object["app"]?.stringValue ?? ""
            state = .connected(app: app.split(separator: "/").first.map(String.init) ?? app)
            var setChunk = RTMPMessage.control(.setChunkSize, UInt32(Self.outgoingChunkSize))
            setChunk.chunkStreamID = ChunkStreamID.control
            return [
                .send(.control(.windowAcknowledgementSize, Self.windowAcknowledgementSize)),
                .send(.control(.setPeerBandwidth, Self.windowAcknowledgementSize, extra: 2)),
                .send(setChunk),
                .useOutgoingChunkSize(Self.outgoingChunkSize),
                .send(.command([
                    "_result", transaction,
                    AMF0Value.object([("fmsVer", .string("FMS/3,0,1,123")), ("capabilities", .number(31))]),
                    AMF0Value.object([
                        ("level", .string("status")), ("code", .string("NetConnection.Connect.Success")),
                        ("description", .string("Connection succeeded.")), ("objectEncoding", .number(0)),
                    ]),
                ])),
            ]
        case ("connect", _):
            throw .protocolViolation("second connect")
        case (_, .awaitingConnect):
            throw .protocolViolation("\(name) before connect")
        case ("releaseStream", _), ("FCPublish", _):
            return [.send(.command(["_result", transaction, AMF0Value.null, AMF0Value.undefined]))]
        case ("createStream", _):
            streamIDs += 1
            return [.send(.command(["_result", transaction, AMF0Value.null, Double(streamIDs)]))]
        case ("publish", .connected(let app)):
            guard case let .string(rawKey)? = arguments.first, !rawKey.isEmpty else {
                throw .malformedAMF0("publish without a stream name")
            }
            // OBS and ffmpeg may append a query string to the key; only the part before it is the key.
            let key = String(rawKey.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            state = .authorizing(app: app, streamID: streamID)
            return [.authorize(app: app, streamKey: key)]
        case ("publish", _):
            throw .protocolViolation("publish while \(state)")
        case ("play", _):
            state = .closed
            return [
                .send(Self.status(level: "error", code: "NetStream.Play.Failed",
                                  description: "This server does not play over RTMP; use HLS.", streamID: streamID)),
                .close,
            ]
        case ("FCUnpublish", .publishing), ("deleteStream", .publishing), ("closeStream", .publishing):
            if case let .publishing(app, _) = state { state = .connected(app: app) }
            return [.unpublished]
        case ("FCUnpublish", _), ("deleteStream", _), ("closeStream", _):
            return []
        default:
            // getStreamLength, _checkbw and friends: answer politely when they expect an answer.
            return transaction > 0 ? [.send(.command(["_result", transaction, AMF0Value.null]))] : []
        }
    }

    private mutating func data(_ payload: ByteBuffer) throws(RTMPError) -> [Action] {
        var payload = payload
        let values: [AMF0Value]
        do {
            values = try AMF0.decodeAll(&payload)
        } catch {
            throw .malformedAMF0("\(error)")
        }
        guard case .publishing = state else { return [] }
        var rest = values[...]
        if rest.first == .string("@setDataFrame") { rest = rest.dropFirst() }
        guard rest.first == .string("onMetaData"), rest.count > 1 else { return [] }
        switch rest[rest.startIndex + 1] {
        case let .ecmaArray(properties), let .object(properties):
            return [.media(.metadata(properties))]
        default:
            return []
        }
    }

    private mutating func video(_ payload: ByteBuffer, timestamp: UInt32) throws(RTMPError) -> [Action] {
        guard case .publishing = state else { return [] }
        let body: FLVTagBody
        do {
            body = try FLVTagBody.video(payload)
        } catch {
            throw .malformedMessage("video: \(error)")
        }
        switch body {
        case let .avcSequenceHeader(record):
            return [.media(.codec(.avc(record)))]
        case let .avcNALUnits(isKeyframe, compositionTime, data):
            let dts = videoClock.extend(timestamp) * 90
            let frame = MediaFrame(track: .video, pts: dts + Int64(compositionTime) * 90, dts: dts, isKeyframe: isKeyframe, data: data)
            return [.media(.frame(frame))]
        default:
            return []
        }
    }

    private mutating func audio(_ payload: ByteBuffer, timestamp: UInt32) throws(RTMPError) -> [Action] {
        guard case .publishing = state else { return [] }
        let body: FLVTagBody
        do {
            body = try FLVTagBody.audio(payload)
        } catch {
            throw .malformedMessage("audio: \(error)")
        }
        switch body {
        case let .aacSequenceHeader(config):
            return [.media(.codec(.aac(config)))]
        case let .aacFrame(data):
            let ts = audioClock.extend(timestamp) * 90
            return [.media(.frame(MediaFrame(track: .audio, pts: ts, dts: ts, isKeyframe: true, data: data)))]
        default:
            return []
        }
    }

    static func status(level: String, code: String, description: String, streamID: UInt32) -> RTMPMessage {
        var message = RTMPMessage.command([
            "onStatus", 0, AMF0Value.null,
            AMF0Value.object([("level", .string(level)), ("code", .string(code)), ("description", .string(description))]),
        ], streamID: streamID)
        message.chunkStreamID = 5
        return message
    }
}

/// Turns RTMP's 32-bit millisecond timestamps into a 64-bit timeline that survives the wrap after ~49.7 days.
struct TimestampExtender: Sendable {
    private var last: UInt32?
    private var value: Int64 = 0

    mutating func extend(_ timestamp: UInt32) -> Int64 {
        if let last {
            value += Int64(Int32(bitPattern: timestamp &- last))
        } else {
            value = Int64(timestamp)
        }
        last = timestamp
        return value
    }
}
