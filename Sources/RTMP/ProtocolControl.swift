import NIOCore

/// The protocol control messages both ends of an RTMP connection handle alike (RTMP specification 1.0, §5.4 and
/// §7.1.7): Set Chunk Size, Abort, Acknowledgement accounting against the peer's window, and ping.
///
/// Embedded in `ServerSession` and `ClientSession`, which only add their command conversations.
struct ProtocolControl: Sendable {
    private var peerWindow: UInt32 = 0
    private var bytesReceived: UInt64 = 0
    private var lastAcknowledged: UInt64 = 0

    /// Counts bytes read from the socket and returns an Acknowledgement when the peer's window is reached (§5.4.3).
    mutating func received(bytes: Int) -> RTMPMessage? {
        bytesReceived += UInt64(bytes)
        guard peerWindow > 0, bytesReceived - lastAcknowledged >= UInt64(peerWindow) else { return nil }
        lastAcknowledged = bytesReceived
        return .control(.acknowledgement, UInt32(truncatingIfNeeded: bytesReceived))
    }

    /// Handles a protocol control or user control message and returns what to send back; nil when `message` is not
    /// one, so the session handles it.
    mutating func handle(_ message: RTMPMessage, decoder: inout ChunkDecoder) throws(RTMPError) -> [RTMPMessage]? {
        var payload = message.payload
        switch message.typeID {
        case .setChunkSize:
            guard let size = payload.readInteger(as: UInt32.self) else { throw .malformedMessage("Set Chunk Size") }
            try decoder.setChunkSize(Int(size & 0x7FFF_FFFF))
            return []
        case .abort:
            guard let csid = payload.readInteger(as: UInt32.self) else { throw .malformedMessage("Abort") }
            decoder.abort(chunkStreamID: csid)
            return []
        case .windowAcknowledgementSize:
            guard let size = payload.readInteger(as: UInt32.self) else { throw .malformedMessage("Window Acknowledgement Size") }
            peerWindow = size
            return []
        case .acknowledgement, .setPeerBandwidth:
            return []
        case .userControl:
            guard let event = payload.readInteger(as: UInt16.self) else { throw .malformedMessage("User Control") }
            if event == UserControlEvent.pingRequest.rawValue, let stamp = payload.readInteger(as: UInt32.self) {
                return [.userControl(.pingResponse, stamp)]
            }
            return []
        default:
            return nil
        }
    }
}
