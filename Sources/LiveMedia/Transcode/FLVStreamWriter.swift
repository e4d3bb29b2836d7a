import MediaFormats
import NIOCore

/// Writes a broadcast's deliveries as an FLV stream (the format a transcoder reads on its standard input): the file
/// header once, the AVC and AAC sequence headers at each configuration, then one tag per frame. Timestamps are the
/// broadcast's, in FLV's milliseconds (the transcoder keeps them: its output lands on the same timeline).
///
/// A pure state machine: deliveries in, bytes out.
public struct FLVStreamWriter: Sendable {
    private var wroteHeader = false
    private var hasVideo = false

    public init() {}

    /// The bytes for one delivery; empty for those FLV has nothing for (an interruption, the end).
    public mutating func write(_ delivery: BroadcastDelivery) -> ByteBuffer {
        var out = ByteBuffer()
        switch delivery {
        case let .configure(video, audio, _):
            if !wroteHeader {
                wroteHeader = true
                // "FLV", version 1, flags (audio 0x04, video 0x01), header size 9, then PreviousTagSize0.
                out.writeBytes([0x46, 0x4C, 0x56, 0x01, (audio != nil ? 0x04 : 0) | (video != nil ? 0x01 : 0), 0, 0, 0, 9, 0, 0, 0, 0])
            }
            hasVideo = video != nil
            if let video {
                var body = ByteBuffer()
                FLVTagBody.writeVideo(.avcSequenceHeader(video.record), into: &body)
                Self.tag(type: 9, timestamp: 0, body: body, into: &out)
            }
            if let audio {
                var body = ByteBuffer()
                FLVTagBody.writeAudio(.aacSequenceHeader(audio.bytes), into: &body)
                Self.tag(type: 8, timestamp: 0, body: body, into: &out)
            }
        case let .frame(frame, _):
            guard wroteHeader else { break }
            var body = ByteBuffer()
            let dts = Self.milliseconds(frame.dts)
            switch frame.track {
            case .video:
                guard hasVideo else { break }
                let composition = Int32(clamping: Self.milliseconds(frame.pts) - dts)
                FLVTagBody.writeVideo(.avcNALUnits(isKeyframe: frame.isKeyframe, compositionTime: composition, data: frame.data), into: &body)
                Self.tag(type: 9, timestamp: dts, body: body, into: &out)
            case .audio:
                FLVTagBody.writeAudio(.aacFrame(frame.data), into: &body)
                Self.tag(type: 8, timestamp: Self.milliseconds(frame.pts), body: body, into: &out)
            }
        case .interrupt, .end:
            break
        }
        return out
    }

    /// 90 kHz to milliseconds, rounded; never negative (FLV timestamps are unsigned).
    static func milliseconds(_ ticks: Int64) -> Int64 {
        max(0, (ticks + 45) / 90)
    }

    /// One tag (E.4.1): type, 24-bit size, 24-bit timestamp and its upper byte, stream id 0, body, PreviousTagSize.
    static func tag(type: UInt8, timestamp: Int64, body: ByteBuffer, into out: inout ByteBuffer) {
        let size = UInt32(body.readableBytes)
        let time = UInt32(truncatingIfNeeded: timestamp)
        out.writeBytes([type, UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF),
                        UInt8(time >> 16 & 0xFF), UInt8(time >> 8 & 0xFF), UInt8(time & 0xFF), UInt8(time >> 24 & 0xFF),
                        0, 0, 0])
        out.writeImmutableBuffer(body)
        out.writeInteger(size + 11)
    }
}
