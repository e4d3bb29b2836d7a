import Foundation
import Interaction
import LiveloopClient
import MediaFormats
import NIOCore
import RTMP

/// The fuzzed entry points: each takes arbitrary bytes and must never crash, hang or grow without bound — whatever
/// it throws is fine. One harness per parser that reads what a client or a publisher sends (issue #15, point 4).
enum Harnesses {
    static let all: [String: @Sendable (ByteBuffer) -> Void] = [
        "amf0": amf0,
        "rtmp-chunks": rtmpChunks,
        "rtmp-session": rtmpSession,
        "flv-tags": flvTags,
        "isobmff": isobmff,
        "interaction-protocol": interactionProtocol,
        "media-playlist": mediaPlaylist,
        "mpegts": mpegts,
    ]

    static func amf0(_ input: ByteBuffer) {
        var buffer = input
        _ = try? AMF0.decodeAll(&buffer)
    }

    /// The chunk stream decoder alone, fed in two pieces (a split read) so partial headers are exercised.
    static func rtmpChunks(_ input: ByteBuffer) {
        var decoder = ChunkDecoder()
        let split = input.readableBytes / 2
        var first = input.getSlice(at: input.readerIndex, length: split) ?? ByteBuffer()
        var rest = input.getSlice(at: input.readerIndex + split, length: input.readableBytes - split) ?? ByteBuffer()
        for index in 0..<2 {
            var progressed = true
            while progressed {
                do {
                    if index == 0 {
                        _ = try decoder.decodeChunk(&first, progressed: &progressed)
                    } else {
                        first.writeBuffer(&rest)
                        _ = try decoder.decodeChunk(&first, progressed: &progressed)
                    }
                } catch {
                    return
                }
            }
        }
    }

    /// A whole server conversation: the handshake, then chunks into the session state machine.
    static func rtmpSession(_ input: ByteBuffer) {
        var handshake = ServerHandshake()
        var decoder = ChunkDecoder()
        var session = ServerSession()
        var buffer = input
        let allocator = ByteBufferAllocator()
        do {
            if case .send = try handshake.feed(&buffer, allocator: allocator) {
                _ = try handshake.feed(&buffer, allocator: allocator)
            }
            guard handshake.state == .done else { return }
            var progressed = true
            while progressed {
                if let message = try decoder.decodeChunk(&buffer, progressed: &progressed) {
                    _ = try session.receive(message, decoder: &decoder)
                }
            }
        } catch {}
    }

    static func flvTags(_ input: ByteBuffer) {
        _ = try? FLVTagBody.video(input)
        _ = try? FLVTagBody.audio(input)
    }

    static func isobmff(_ input: ByteBuffer) {
        guard let boxes = try? ISOBMFFReader.boxes(in: input) else { return }
        _ = ISOBMFFReader.first(["moof", "traf", "tfdt"], in: boxes)
    }

    static func interactionProtocol(_ input: ByteBuffer) {
        _ = ClientRequest.decode(Data(input.readableBytesView))
    }

    /// The SRT ingest path: MPEG-TS through the demuxer, ADTS and Annex B into ingest events, fed in two pieces.
    static func mpegts(_ input: ByteBuffer) {
        var ingest = MPEGTSIngest(maximumPESBytes: 1 << 20)
        let bytes = Array(input.readableBytesView)
        let split = bytes.count / 2
        do {
            _ = try ingest.feed(bytes[..<split])
            _ = try ingest.feed(bytes[split...])
        } catch {}
        _ = ingest.finish()
    }

    static func mediaPlaylist(_ input: ByteBuffer) {
        _ = ParsedMediaPlaylist(String(decoding: input.readableBytesView, as: UTF8.self))
    }
}
