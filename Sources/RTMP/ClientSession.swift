import MediaFormats
import NIOCore

/// The command state machine of an RTMP push client (RTMP specification 1.0, §7.2.1–§7.2.2), in the order ffmpeg and
/// OBS use it: `connect`, then `releaseStream` + `FCPublish` + `createStream`, then `publish`, then media once the
/// server answers `onStatus NetStream.Publish.Start`.
///
/// It takes whole messages and returns actions for the connection handler to perform; it does no I/O and reads no
/// clock, so the exchange is testable without a socket.
public struct ClientSession: Sendable {
    public enum State: Sendable, Equatable {
        case idle
        /// `connect` sent; waiting for its `_result`.
        case connecting
        /// `releaseStream`, `FCPublish` and `createStream` sent; waiting for `createStream`'s `_result`.
        case creatingStream
        /// `publish` sent on this message stream; waiting for `onStatus`.
        case awaitingPublishStart(streamID: UInt32)
        case publishing(streamID: UInt32)
        case failed
    }

    public enum Action: Sendable {
        case send(RTMPMessage)
        /// Send the Set Chunk Size message (already queued in a `.send`) and switch the encoder to this size.
        case useOutgoingChunkSize(Int)
        /// The server accepted the stream: media may flow on this message stream.
        case publishStarted(streamID: UInt32)
        /// The server refused the connection or the stream, or said so later; close the connection.
        case fail(RTMPPublisherError)
    }

    /// Our outgoing chunk size once publishing: one 30 fps 640x360 P-frame fits in a chunk or two.
    public static let outgoingChunkSize = 4096

    private enum Transaction {
        static let connect = 1.0
        static let releaseStream = 2.0
        static let fcPublish = 3.0
        static let createStream = 4.0
        static let publish = 5.0
    }

    public let app: String
    public let streamKey: String
    public let tcURL: String
    public private(set) var state: State = .idle
    private var control = ProtocolControl()

    /// - Parameters:
    ///   - app: the application, the first path component of the RTMP URL (`live`).
    ///   - streamKey: the stream name given to `publish`.
    ///   - tcURL: the URL of the application as the client sees it (`rtmp://host:port/live`).
    public init(app: String, streamKey: String, tcURL: String) {
        self.app = app
        self.streamKey = streamKey
        self.tcURL = tcURL
    }

    /// The `connect` command, to send once the handshake is done.
    public mutating func start() -> [Action] {
        guard state == .idle else { return [] }
        state = .connecting
        return [.send(.command([
            "connect", Transaction.connect,
            AMF0Value.object([
                ("app", .string(app)), ("type", .string("nonprivate")), ("flashVer", .string("FMLE/3.0 (compatible; Liveloop)")),
                ("tcUrl", .string(tcURL)),
            ]),
        ]))]
    }

    /// Counts bytes read from the socket and returns an Acknowledgement when the peer's window is reached (§5.4.3).
    public mutating func received(bytes: Int) -> RTMPMessage? {
        control.received(bytes: bytes)
    }

    /// Handles one message from the server.
    public mutating func receive(_ message: RTMPMessage, decoder: inout ChunkDecoder) throws(RTMPError) -> [Action] {
        if let replies = try control.handle(message, decoder: &decoder) {
            return replies.map { .send($0) }
        }
        var payload = message.payload
        switch message.typeID {
        case .setChunkSize, .abort, .acknowledgement, .windowAcknowledgementSize, .setPeerBandwidth, .userControl:
            return []  // handled by `control` above
        case .commandAMF0, .commandAMF3:
            if message.typeID == .commandAMF3 { payload.moveReaderIndex(forwardBy: min(1, payload.readableBytes)) }
            let values: [AMF0Value]
            do {
                values = try AMF0.decodeAll(&payload)
            } catch {
                throw .malformedAMF0("\(error)")
            }
            return command(values)
        case .audio, .video, .dataAMF0, .dataAMF3,
             .sharedObjectAMF0, .sharedObjectAMF3, .aggregate:
            return []
        }
    }

    private mutating func command(_ values: [AMF0Value]) -> [Action] {
        guard case let .string(name)? = values.first else { return [] }
        let transaction = values.count > 1 ? (values[1].numberValue ?? 0) : 0
        let information = values.count > 3 ? values[3] : .null

        switch (name, state) {
        case ("_result", .connecting) where transaction == Transaction.connect:
            state = .creatingStream
            return [
                .send(.command(["releaseStream", Transaction.releaseStream, AMF0Value.null, streamKey])),
                .send(.command(["FCPublish", Transaction.fcPublish, AMF0Value.null, streamKey])),
                .send(.command(["createStream", Transaction.createStream, AMF0Value.null])),
            ]
        case ("_error", .connecting) where transaction == Transaction.connect:
            return fail(.connectRefused(code: information["code"]?.stringValue ?? "", description: information["description"]?.stringValue ?? ""))
        case ("_result", .creatingStream) where transaction == Transaction.createStream:
            guard let number = information.numberValue, number >= 0, number < Double(UInt32.max) else {
                return fail(.protocolViolation("createStream answered without a stream id"))
            }
            let streamID = UInt32(number)
            state = .awaitingPublishStart(streamID: streamID)
            return [.send(.command(["publish", Transaction.publish, AMF0Value.null, streamKey, "live"], streamID: streamID))]
        case ("_error", .creatingStream) where transaction == Transaction.createStream:
            return fail(.publishRefused(code: information["code"]?.stringValue ?? "", description: information["description"]?.stringValue ?? ""))
        case ("onStatus", _):
            return status(information)
        default:
            // _result of releaseStream and FCPublish, onBWDone, onFCPublish: nothing to do.
            return []
        }
    }

    private mutating func status(_ information: AMF0Value) -> [Action] {
        let level = information["level"]?.stringValue ?? ""
        let code = information["code"]?.stringValue ?? ""
        let description = information["description"]?.stringValue ?? ""
        switch state {
        case let .awaitingPublishStart(streamID) where code == "NetStream.Publish.Start":
            state = .publishing(streamID: streamID)
            return [
                .send(.control(.setChunkSize, UInt32(Self.outgoingChunkSize))),
                .useOutgoingChunkSize(Self.outgoingChunkSize),
                .publishStarted(streamID: streamID),
            ]
        case .awaitingPublishStart where level == "error":
            return fail(.publishRefused(code: code, description: description))
        case .publishing where level == "error":
            return fail(.streamStopped(code: code, description: description))
        default:
            return []
        }
    }

    private mutating func fail(_ error: RTMPPublisherError) -> [Action] {
        state = .failed
        return [.fail(error)]
    }
}
