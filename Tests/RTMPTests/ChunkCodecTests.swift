import NIOCore
import RTMP
import Testing

@Suite("Chunk stream codec")
struct ChunkCodecTests {
    @Test("a message larger than the chunk size survives the encoder and decoder", arguments: [1, 60, 128, 4096])
    func roundTripLargeMessage(chunkSize: Int) throws {
        let original = rtmpMessage(.video, csid: 6, timestamp: 1234, streamID: 1, payload: pattern(1000))
        var wire = encodeChunks([original], chunkSize: chunkSize)
        let continuationChunks = (1000 + chunkSize - 1) / chunkSize - 1
        #expect(wire.readableBytes == 12 + 1000 + continuationChunks, "a type 0 header, then one-byte type 3 headers")

        var decoder = ChunkDecoder()
        try decoder.setChunkSize(chunkSize)
        let decoded = try decodeMessages(&wire, with: &decoder)
        #expect(decoded.map(MessageSummary.init) == [MessageSummary(original)])
        #expect(wire.readableBytes == 0)
    }

    @Test("an empty message round trips")
    func emptyMessage() throws {
        var wire = encodeChunks([rtmpMessage(.dataAMF0, csid: 5, timestamp: 7, payload: [])])
        var decoder = ChunkDecoder()
        let decoded = try decodeMessages(&wire, with: &decoder)
        #expect(decoded.map(\.payload.readableBytes) == [0])
        #expect(decoded.first?.timestamp == 7)
    }

    @Test("a Set Chunk Size from the peer changes how the following chunks are read")
    func chunkSizeChange() throws {
        let before = rtmpMessage(.audio, csid: 4, timestamp: 10, payload: pattern(300, seed: 1))
        var setChunkSize = ByteBuffer()
        setChunkSize.writeInteger(UInt32(4096))
        let after = rtmpMessage(.video, csid: 6, timestamp: 20, payload: pattern(10_000, seed: 2))

        var encoder = ChunkEncoder()
        var wire = ByteBuffer()
        encoder.encode(before, into: &wire)
        encoder.encode(RTMPMessage(typeID: .setChunkSize, chunkStreamID: 2, payload: setChunkSize), into: &wire)
        encoder.setChunkSize(4096)
        encoder.encode(after, into: &wire)
        #expect(wire.readableBytes == (12 + 300 + 2) + (12 + 4) + (12 + 10_000 + 2))

        var harness = SessionHarness()
        let received = try harness.feed(&wire).messages.map(MessageSummary.init)
        #expect(harness.decoder.chunkSize == 4096)
        #expect(received.map(\.type) == [.audio, .setChunkSize, .video])
        #expect(received.first == MessageSummary(before))
        #expect(received.last == MessageSummary(after))
    }

    static let basicHeaderForms: [(csid: UInt32, header: [UInt8])] = [
        (2, [0x02]), (63, [0x3F]), (64, [0x00, 0x00]), (319, [0x00, 0xFF]), (320, [0x01, 0x00, 0x01]), (65_599, [0x01, 0xFF, 0xFF]),
    ]

    @Test("chunk stream ids take a 1-, 2- or 3-byte basic header and come back unchanged", arguments: basicHeaderForms)
    func basicHeaders(csid: UInt32, header: [UInt8]) throws {
        let original = rtmpMessage(.commandAMF0, csid: csid, timestamp: 5, payload: pattern(200))
        var wire = encodeChunks([original])
        #expect(Array(wire.bytes.prefix(header.count)) == header)
        // The type 3 continuation header uses the same form, with format bits 11.
        let continuation = wire.bytes[(header.count + 11 + 128)...].prefix(header.count)
        #expect(Array(continuation) == [header[0] | 0xC0] + header.dropFirst())

        var decoder = ChunkDecoder()
        let decoded = try decodeMessages(&wire, with: &decoder)
        #expect(decoded.map(MessageSummary.init) == [MessageSummary(original)])
    }

    @Test(
        "timestamps from 0xFFFFFF up use the extended timestamp, repeated on every type 3 chunk",
        arguments: [0xFF_FFFF, 0x0100_0000, 0xFFFF_FFFF] as [UInt32]
    )
    func extendedTimestamps(timestamp: UInt32) throws {
        let original = rtmpMessage(.video, csid: 6, timestamp: timestamp, payload: pattern(300))
        var wire = encodeChunks([original])
        let bytes = wire.bytes
        #expect(bytes[1..<4] == [0xFF, 0xFF, 0xFF], "the 24-bit field is saturated")
        let extended: [UInt8] = [UInt8(timestamp >> 24), UInt8((timestamp >> 16) & 0xFF), UInt8((timestamp >> 8) & 0xFF), UInt8(timestamp & 0xFF)]
        #expect(Array(bytes[12..<16]) == extended)
        // 300 bytes at 128 per chunk: two type 3 chunks, each header followed by the extended timestamp again.
        let firstContinuation = 16 + 128
        #expect(bytes[firstContinuation] == 0xC6)
        #expect(Array(bytes[(firstContinuation + 1)..<(firstContinuation + 5)]) == extended)
        #expect(bytes.count == 16 + 300 + 2 * 5)

        var decoder = ChunkDecoder()
        let decoded = try decodeMessages(&wire, with: &decoder)
        #expect(decoded.map(MessageSummary.init) == [MessageSummary(original)])
    }

    @Test("timestamps just below 0xFFFFFF are written in the 24-bit field alone")
    func belowExtended() {
        let wire = encodeChunks([rtmpMessage(.video, csid: 6, timestamp: 0xFF_FFFE, payload: pattern(10))])
        #expect(wire.readableBytes == 12 + 10)
        #expect(Array(wire.bytes[1..<4]) == [0xFF, 0xFF, 0xFE])
    }

    @Test("type 1, 2 and 3 headers reuse the previous header and add their timestamp deltas")
    func compressedHeaders() throws {
        var chunks = ChunkBytes()
        chunks.type0(csid: 4, timestamp: 1000, length: 3, type: 8, streamID: 1)
        chunks.body([1, 2, 3])
        chunks.type1(csid: 4, delta: 20, length: 2, type: 8)
        chunks.body([4, 5])
        chunks.type2(csid: 4, delta: 30)
        chunks.body([6, 7])
        chunks.type3(csid: 4)
        chunks.body([8, 9])
        var wire = ByteBuffer(bytes: chunks.bytes)
        var decoder = ChunkDecoder()
        let decoded = try decodeMessages(&wire, with: &decoder)
        #expect(decoded.map(\.timestamp) == [1000, 1020, 1050, 1080], "type 3 repeats the last delta")
        #expect(decoded.map(\.payload.bytes) == [[1, 2, 3], [4, 5], [6, 7], [8, 9]])
        #expect(decoded.allSatisfy { $0.messageStreamID == 1 && $0.typeID == .audio && $0.chunkStreamID == 4 })
    }

    @Test("a type 3 chunk starting a message right after a type 0 uses the type 0 timestamp as its delta (§5.3.1.2.4)")
    func type3AfterType0() throws {
        var chunks = ChunkBytes()
        chunks.type0(csid: 5, timestamp: 40, length: 1, type: 18)
        chunks.body([0x05])
        chunks.type3(csid: 5)
        chunks.body([0x05])
        var wire = ByteBuffer(bytes: chunks.bytes)
        var decoder = ChunkDecoder()
        #expect(try decodeMessages(&wire, with: &decoder).map(\.timestamp) == [40, 80])
    }

    @Test("extended deltas on type 1 and type 2 headers, and on the type 3 chunks that continue them")
    func extendedDeltas() throws {
        var chunks = ChunkBytes()
        chunks.type0(csid: 6, timestamp: 100, length: 1, type: 9)
        chunks.body([0])
        chunks.type1(csid: 6, delta: 0x0100_0000, length: 200, type: 9)
        chunks.body(pattern(128))
        chunks.type3(csid: 6, extendedTimestamp: 0x0100_0000)
        chunks.body(pattern(72).map { $0 ^ 0xFF })
        chunks.type2(csid: 6, delta: 0xFF_FFFF)
        chunks.body(pattern(128))
        chunks.type3(csid: 6, extendedTimestamp: 0xFF_FFFF)
        chunks.body(pattern(72))
        chunks.type2(csid: 6, delta: 5)
        chunks.body(pattern(128))
        chunks.type3(csid: 6)
        chunks.body(pattern(72))
        var wire = ByteBuffer(bytes: chunks.bytes)
        var decoder = ChunkDecoder()
        let decoded = try decodeMessages(&wire, with: &decoder)
        let afterType1: UInt32 = 100 + 0x0100_0000
        let afterType2: UInt32 = afterType1 + 0xFF_FFFF
        #expect(decoded.map(\.timestamp) == [100, afterType1, afterType2, afterType2 + 5])
        #expect(decoded.map(\.payload.readableBytes) == [1, 200, 200, 200])
        #expect(decoded[1].payload.bytes == pattern(128) + pattern(72).map { $0 ^ 0xFF })
        #expect(wire.readableBytes == 0)
    }

    @Test("two chunk streams interleaved chunk by chunk are reassembled separately")
    func interleavedStreams() throws {
        let video = pattern(300, seed: 1)
        let audio = pattern(200, seed: 2)
        var chunks = ChunkBytes()
        chunks.type0(csid: 6, timestamp: 33, length: 300, type: 9, streamID: 1)
        chunks.body(Array(video[0..<128]))
        chunks.type0(csid: 4, timestamp: 21, length: 200, type: 8, streamID: 1)
        chunks.body(Array(audio[0..<128]))
        chunks.type3(csid: 6)
        chunks.body(Array(video[128..<256]))
        chunks.type3(csid: 4)
        chunks.body(Array(audio[128...]))
        chunks.type3(csid: 6)
        chunks.body(Array(video[256...]))
        var wire = ByteBuffer(bytes: chunks.bytes)
        var decoder = ChunkDecoder()
        let decoded = try decodeMessages(&wire, with: &decoder).map(MessageSummary.init)
        #expect(decoded == [
            MessageSummary(rtmpMessage(.audio, csid: 4, timestamp: 21, payload: audio)),
            MessageSummary(rtmpMessage(.video, csid: 6, timestamp: 33, payload: video)),
        ])
    }

    @Test("bytes fed one at a time: nothing is consumed until a chunk is whole, and every message comes out the same")
    func byteAtATime() throws {
        let messages = [
            rtmpMessage(.commandAMF0, csid: 3, timestamp: 0, streamID: 0, payload: pattern(150)),
            rtmpMessage(.video, csid: 6, timestamp: 0xFF_FFFF, payload: pattern(400, seed: 3)),
            rtmpMessage(.audio, csid: 320, timestamp: 0x1234_5678, payload: pattern(129, seed: 5)),
            rtmpMessage(.video, csid: 70, timestamp: 9, payload: pattern(1, seed: 6)),
            rtmpMessage(.dataAMF0, csid: 6, timestamp: 0xFFFF_FFFF, payload: pattern(256, seed: 7)),
        ]
        let wire = encodeChunks(messages).bytes

        var decoder = ChunkDecoder()
        var buffer = ByteBuffer()
        var decoded: [MessageSummary] = []
        for byte in wire {
            buffer.writeInteger(byte)
            var progressed = true
            while progressed {
                let before = buffer.readableBytes
                if let message = try decoder.decodeChunk(&buffer, progressed: &progressed) {
                    decoded.append(MessageSummary(message))
                }
                if !progressed {
                    #expect(buffer.readableBytes == before, "an incomplete chunk is left in the buffer")
                }
            }
        }
        #expect(decoded == messages.map(MessageSummary.init))
        #expect(buffer.readableBytes == 0)
    }

    @Test("an Abort Message drops the partial message, and the chunk stream starts afresh")
    func abort() throws {
        var chunks = ChunkBytes()
        chunks.type0(csid: 6, timestamp: 1, length: 300, type: 9)
        chunks.body(pattern(128))
        var wire = ByteBuffer(bytes: chunks.bytes)
        var decoder = ChunkDecoder()
        #expect(try decodeMessages(&wire, with: &decoder).isEmpty)
        decoder.abort(chunkStreamID: 6)

        var next = ChunkBytes()
        next.type0(csid: 6, timestamp: 2, length: 3, type: 9)
        next.body([7, 8, 9])
        wire = ByteBuffer(bytes: next.bytes)
        let decoded = try decodeMessages(&wire, with: &decoder)
        #expect(decoded.map(\.payload.bytes) == [[7, 8, 9]])
    }
}
