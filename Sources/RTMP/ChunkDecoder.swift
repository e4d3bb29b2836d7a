import NIOCore

/// Reassembles RTMP messages from the chunk stream (RTMP specification 1.0, §5.3).
///
/// Limits protect the server from a peer that announces more than it should: a chunk size above `maximumChunkSize`,
/// a message above `maximumMessageSize`, more than `maximumChunkStreams` distinct chunk stream ids, or more than
/// `maximumBufferedBytes` held in them all throw, and the connection is closed.
///
/// A server connection starts with `Limits.beforePublish` — room for `connect`, `createStream` and `publish`, a few
/// KiB — and gets the media limits only once its stream key is accepted (`raiseLimits(to:)`), so a peer without a key
/// cannot make the server hold more than that.
public struct ChunkDecoder: Sendable {
    public struct Limits: Sendable, Equatable {
        public var maximumChunkSize: Int = 1 << 24
        public var maximumMessageSize: Int = 8 << 20
        public var maximumChunkStreams: Int = 64
        public var maximumBufferedBytes: Int = 16 << 20
        public init() {}

        public init(maximumChunkSize: Int, maximumMessageSize: Int, maximumChunkStreams: Int, maximumBufferedBytes: Int) {
            self.maximumChunkSize = maximumChunkSize
            self.maximumMessageSize = maximumMessageSize
            self.maximumChunkStreams = maximumChunkStreams
            self.maximumBufferedBytes = maximumBufferedBytes
        }

        /// Before the stream key is checked: OBS's `connect` (the largest command a publisher sends first, with its
        /// Enhanced RTMP FourCC lists) is under 1 KiB. A message may be 8 KiB, partial messages may hold 16 KiB in
        /// all, on at most 8 chunk streams. The chunk size itself costs nothing: a chunk never carries more than the
        /// message it belongs to.
        public static let beforePublish = Limits(
            maximumChunkSize: 1 << 24, maximumMessageSize: 8 << 10, maximumChunkStreams: 8, maximumBufferedBytes: 16 << 10
        )
    }

    private struct StreamState: Sendable {
        var timestamp: UInt32 = 0
        var timestampDelta: UInt32 = 0
        var messageLength: Int = 0
        var typeID: UInt8 = 0
        var messageStreamID: UInt32 = 0
        var hasExtendedTimestamp = false
        var hasHeader = false
        var partial: ByteBuffer?
    }

    public private(set) var limits: Limits
    public private(set) var chunkSize = 128
    private var streams: [UInt32: StreamState] = [:]
    private var bufferedBytes = 0

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Switches to larger limits (the stream key was accepted). Limits never shrink: what is buffered already fits.
    public mutating func raiseLimits(to newLimits: Limits) {
        limits = Limits(
            maximumChunkSize: max(limits.maximumChunkSize, newLimits.maximumChunkSize),
            maximumMessageSize: max(limits.maximumMessageSize, newLimits.maximumMessageSize),
            maximumChunkStreams: max(limits.maximumChunkStreams, newLimits.maximumChunkStreams),
            maximumBufferedBytes: max(limits.maximumBufferedBytes, newLimits.maximumBufferedBytes)
        )
    }

    /// Applies a Set Chunk Size received from the peer.
    public mutating func setChunkSize(_ size: Int) throws(RTMPError) {
        // A chunk size of zero would make every chunk empty; it is not "too large", and saying so misleads the log.
        guard size >= 1 else { throw .protocolViolation("Set Chunk Size \(size)") }
        guard size <= limits.maximumChunkSize else { throw .chunkTooLarge(size, limit: limits.maximumChunkSize) }
        chunkSize = size
    }

    /// Drops the partial message of a chunk stream (Abort Message, §5.4.2).
    public mutating func abort(chunkStreamID: UInt32) {
        if let partial = streams[chunkStreamID]?.partial {
            bufferedBytes -= partial.readableBytes
            streams[chunkStreamID]?.partial = nil
        }
    }

    /// Reads one chunk from `buffer` and returns a message if the chunk completed one. Returns nil and leaves the buffer
    /// untouched when a whole chunk is not there yet; returns nil having consumed the chunk when the message goes on.
    /// Sets `progressed` to tell the two apart.
    public mutating func decodeChunk(_ buffer: inout ByteBuffer, progressed: inout Bool) throws(RTMPError) -> RTMPMessage? {
        progressed = false
        var view = buffer
        guard let first = view.readInteger(as: UInt8.self) else { return nil }
        let format = first >> 6
        var csid = UInt32(first & 0x3F)
        if csid == 0 {
            guard let b = view.readInteger(as: UInt8.self) else { return nil }
            csid = 64 + UInt32(b)
        } else if csid == 1 {
            guard let b1 = view.readInteger(as: UInt8.self), let b2 = view.readInteger(as: UInt8.self) else { return nil }
            csid = 64 + UInt32(b1) + UInt32(b2) * 256
        }

        var state = streams[csid] ?? StreamState()
        let isNewStream = streams[csid] == nil
        if isNewStream, streams.count >= limits.maximumChunkStreams {
            throw .tooManyChunkStreams(limit: limits.maximumChunkStreams)
        }
        var timestampField: UInt32 = 0
        switch format {
        case 0:
            guard let ts = view.readUInt24(), let len = view.readUInt24(), let type = view.readInteger(as: UInt8.self),
                  let msid = view.readInteger(endianness: .little, as: UInt32.self)
            else { return nil }
            timestampField = ts
            state.messageLength = Int(len)
            state.typeID = type
            state.messageStreamID = msid
        case 1:
            guard state.hasHeader else { throw .continuationWithoutHeader(chunkStream: csid) }
            guard let ts = view.readUInt24(), let len = view.readUInt24(), let type = view.readInteger(as: UInt8.self)
            else { return nil }
            timestampField = ts
            state.messageLength = Int(len)
            state.typeID = type
        case 2:
            guard state.hasHeader else { throw .continuationWithoutHeader(chunkStream: csid) }
            guard let ts = view.readUInt24() else { return nil }
            timestampField = ts
        default:
            guard state.hasHeader else { throw .continuationWithoutHeader(chunkStream: csid) }
        }

        // The extended timestamp follows when the 24-bit field is saturated; type 3 chunks repeat it when their
        // stream's last header had one (as ffmpeg and librtmp both write).
        var extended: UInt32?
        if format < 3 {
            state.hasExtendedTimestamp = timestampField == 0xFF_FFFF
        }
        if state.hasExtendedTimestamp {
            guard let value = view.readInteger(as: UInt32.self) else { return nil }
            extended = value
        }

        guard state.messageLength <= limits.maximumMessageSize else {
            throw .messageTooLarge(state.messageLength, limit: limits.maximumMessageSize)
        }

        let startsMessage = state.partial == nil
        if startsMessage {
            switch format {
            case 0:
                state.timestamp = extended ?? timestampField
                state.timestampDelta = state.timestamp
            case 1, 2:
                state.timestampDelta = extended ?? timestampField
                state.timestamp &+= state.timestampDelta
            default:
                // A type 3 chunk that starts a message repeats the previous delta (§5.3.1.2.4).
                state.timestamp &+= state.timestampDelta
            }
        } else if format != 3 {
            throw .protocolViolation("chunk stream \(csid) got a new header in the middle of a message")
        }

        let already = state.partial?.readableBytes ?? 0
        let remaining = state.messageLength - already
        let take = min(remaining, chunkSize)
        guard view.readableBytes >= take, let body = view.readSlice(length: take) else { return nil }

        // The whole chunk is here: commit.
        buffer = view
        progressed = true
        state.hasHeader = true

        if take == remaining, startsMessage {
            streams[csid] = state
            return try message(state: state, csid: csid, payload: body)
        }
        if state.partial == nil {
            state.partial = ByteBufferAllocator().buffer(capacity: state.messageLength)
        }
        state.partial?.writeImmutableBuffer(body)
        bufferedBytes += take
        guard bufferedBytes <= limits.maximumBufferedBytes else {
            throw .bufferedTooMuch(bufferedBytes, limit: limits.maximumBufferedBytes)
        }
        if take == remaining, let payload = state.partial {
            bufferedBytes -= payload.readableBytes
            state.partial = nil
            streams[csid] = state
            return try message(state: state, csid: csid, payload: payload)
        }
        streams[csid] = state
        return nil
    }

    private func message(state: StreamState, csid: UInt32, payload: ByteBuffer) throws(RTMPError) -> RTMPMessage {
        guard let type = RTMPMessage.TypeID(rawValue: state.typeID) else { throw .unknownMessageType(state.typeID) }
        return RTMPMessage(
            typeID: type, messageStreamID: state.messageStreamID, timestamp: state.timestamp,
            chunkStreamID: csid, payload: payload
        )
    }
}

extension ByteBuffer {
    mutating func readUInt24() -> UInt32? {
        guard let bytes = readBytes(length: 3) else { return nil }
        return UInt32(bytes[0]) << 16 | UInt32(bytes[1]) << 8 | UInt32(bytes[2])
    }

    mutating func writeUInt24(_ value: UInt32) {
        writeBytes([UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)])
    }
}
