/// A fixed RTP header (RFC 3550 §5.1) with no CSRCs and no extensions, which is all we send.
public struct RTPHeader: Sendable, Equatable {
    public static let length = 12

    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var marker: Bool

    public init(payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32, marker: Bool) {
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.marker = marker
    }

    /// The header followed by `payload`.
    public func packet(payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0x80, (marker ? 0x80 : 0) | (payloadType & 0x7F),
                              UInt8(sequenceNumber >> 8), UInt8(sequenceNumber & 0xFF)]
        bytes.reserveCapacity(Self.length + payload.count + SRTPContext.tagLength)
        appendBigEndian(timestamp, to: &bytes)
        appendBigEndian(ssrc, to: &bytes)
        bytes.append(contentsOf: payload)
        return bytes
    }

    /// Reads the header of an RTP packet (version 2, at least 12 bytes); nil for anything else.
    public init?(parsing bytes: [UInt8]) {
        guard bytes.count >= Self.length, bytes[0] >> 6 == 2 else { return nil }
        marker = bytes[1] & 0x80 != 0
        payloadType = bytes[1] & 0x7F
        sequenceNumber = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        timestamp = readBigEndian32(bytes, at: 4)
        ssrc = readBigEndian32(bytes, at: 8)
    }
}

func appendBigEndian(_ value: UInt32, to bytes: inout [UInt8]) {
    bytes.append(UInt8(value >> 24))
    bytes.append(UInt8(value >> 16 & 0xFF))
    bytes.append(UInt8(value >> 8 & 0xFF))
    bytes.append(UInt8(value & 0xFF))
}

func readBigEndian32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
}
