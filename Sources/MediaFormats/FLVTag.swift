import NIOCore

/// The body of an FLV video or audio tag, which is also the payload of an RTMP video (type 9) or audio (type 8) message
/// (Adobe FLV specification v10.1, annex E.4.2–E.4.3; the Enhanced RTMP extension's FourCC header is recognised and
/// reported as unsupported until HEVC/AV1 ingest exists).
public enum FLVTagBody: Sendable, Equatable {
    /// An AVC sequence header: the `avcC` record.
    case avcSequenceHeader([UInt8])
    /// AVC NAL units (4-byte length-prefixed), with the composition time offset in milliseconds.
    case avcNALUnits(isKeyframe: Bool, compositionTime: Int32, data: ByteBuffer)
    case avcEndOfSequence
    /// An AAC sequence header: the AudioSpecificConfig.
    case aacSequenceHeader([UInt8])
    /// One raw AAC frame.
    case aacFrame(ByteBuffer)
    /// A codec we do not carry (the FLV codec id or sound format, or a FourCC).
    case unsupported(String)

    public static let maximumSequenceHeader = 64 * 1024

    /// Reads a video tag body.
    public static func video(_ body: ByteBuffer) throws(MediaFormatError) -> FLVTagBody {
        var body = body
        guard let first = body.readInteger(as: UInt8.self) else { throw .truncated("FLV video tag header") }
        if first & 0x80 != 0 {
            // Enhanced RTMP: [isExHeader:1][frameType:3][packetType:4] followed by a FourCC.
            guard let fourCC = body.readString(length: 4) else { throw .truncated("Enhanced RTMP FourCC") }
            return .unsupported("video FourCC \(fourCC)")
        }
        let frameType = first >> 4
        let codecID = first & 0x0F
        guard codecID == 7 else { return .unsupported("video codec id \(codecID)") }
        guard let packetType = body.readInteger(as: UInt8.self),
              let ct = body.readBytes(length: 3)
        else { throw .truncated("AVC packet header") }
        // SI24, big-endian, sign-extended.
        var composition = Int32(ct[0]) << 16 | Int32(ct[1]) << 8 | Int32(ct[2])
        if composition & 0x80_0000 != 0 { composition -= 0x100_0000 }
        switch packetType {
        case 0:
            guard body.readableBytes <= maximumSequenceHeader else { throw .invalid("AVC sequence header too large") }
            return .avcSequenceHeader(body.readBytes(length: body.readableBytes) ?? [])
        case 1:
            return .avcNALUnits(isKeyframe: frameType == 1, compositionTime: composition, data: body)
        case 2:
            return .avcEndOfSequence
        default:
            throw .invalid("AVC packet type \(packetType)")
        }
    }

    /// Reads an audio tag body.
    public static func audio(_ body: ByteBuffer) throws(MediaFormatError) -> FLVTagBody {
        var body = body
        guard let first = body.readInteger(as: UInt8.self) else { throw .truncated("FLV audio tag header") }
        let soundFormat = first >> 4
        guard soundFormat == 10 else { return .unsupported("sound format \(soundFormat)") }
        guard let packetType = body.readInteger(as: UInt8.self) else { throw .truncated("AAC packet type") }
        switch packetType {
        case 0:
            guard body.readableBytes <= maximumSequenceHeader else { throw .invalid("AAC sequence header too large") }
            return .aacSequenceHeader(body.readBytes(length: body.readableBytes) ?? [])
        case 1:
            return .aacFrame(body)
        default:
            throw .invalid("AAC packet type \(packetType)")
        }
    }

    /// Writes a video tag body (used by the RTMP push client and tests).
    public static func writeVideo(_ tag: FLVTagBody, into buffer: inout ByteBuffer) {
        switch tag {
        case let .avcSequenceHeader(record):
            buffer.writeBytes([0x17, 0, 0, 0, 0])
            buffer.writeBytes(record)
        case let .avcNALUnits(isKeyframe, compositionTime, data):
            let ct = UInt32(bitPattern: compositionTime) & 0xFF_FFFF
            buffer.writeBytes([isKeyframe ? 0x17 : 0x27, 1, UInt8(ct >> 16), UInt8((ct >> 8) & 0xFF), UInt8(ct & 0xFF)])
            buffer.writeImmutableBuffer(data)
        case .avcEndOfSequence:
            buffer.writeBytes([0x17, 2, 0, 0, 0])
        default:
            break
        }
    }

    /// Writes an AAC audio tag body (44 kHz, 16-bit, stereo flags as FLV requires for AAC).
    public static func writeAudio(_ tag: FLVTagBody, into buffer: inout ByteBuffer) {
        switch tag {
        case let .aacSequenceHeader(config):
            buffer.writeBytes([0xAF, 0])
            buffer.writeBytes(config)
        case let .aacFrame(data):
            buffer.writeBytes([0xAF, 1])
            buffer.writeImmutableBuffer(data)
        default:
            break
        }
    }
}
