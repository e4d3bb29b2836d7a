import NIOCore

/// Splits RTMP messages into chunks (RTMP specification 1.0, §5.3). Every message starts with a type 0 header, which
/// costs a few bytes per message and keeps the encoder free of per-stream delta state a peer could misread; the rest of
/// a message follows in type 3 chunks.
public struct ChunkEncoder: Sendable {
    public private(set) var chunkSize = 128

    public init() {}

    /// Changes our outgoing chunk size; send a Set Chunk Size message *before* calling this.
    public mutating func setChunkSize(_ size: Int) {
        chunkSize = max(1, min(size, 0x7FFF_FFFF))
    }

    public func encode(_ message: RTMPMessage, into out: inout ByteBuffer) {
        var payload = message.payload
        let extended = message.timestamp >= 0xFF_FFFF
        writeBasicHeader(format: 0, csid: message.chunkStreamID, into: &out)
        out.writeUInt24(extended ? 0xFF_FFFF : message.timestamp)
        out.writeUInt24(UInt32(payload.readableBytes))
        out.writeInteger(message.typeID.rawValue)
        out.writeInteger(message.messageStreamID, endianness: .little)
        if extended { out.writeInteger(message.timestamp) }
        var first = true
        while payload.readableBytes > 0 || first {
            if !first {
                writeBasicHeader(format: 3, csid: message.chunkStreamID, into: &out)
                if extended { out.writeInteger(message.timestamp) }
            }
            first = false
            if let slice = payload.readSlice(length: min(chunkSize, payload.readableBytes)) {
                out.writeImmutableBuffer(slice)
            }
        }
    }

    private func writeBasicHeader(format: UInt8, csid: UInt32, into out: inout ByteBuffer) {
        if csid < 64 {
            out.writeInteger(format << 6 | UInt8(csid))
        } else if csid < 320 {
            out.writeInteger(format << 6)
            out.writeInteger(UInt8(csid - 64))
        } else {
            out.writeInteger(format << 6 | 1)
            out.writeInteger(UInt8((csid - 64) & 0xFF))
            out.writeInteger(UInt8((csid - 64) >> 8))
        }
    }
}
