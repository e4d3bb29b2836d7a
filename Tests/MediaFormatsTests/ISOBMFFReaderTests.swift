import MediaFormats
import NIOCore
import Testing

@Suite("ISOBMFFReader: walking boxes (ISO/IEC 14496-12 §4.2)")
struct ISOBMFFReaderTests {
    @Test("reports type, offset, size and payload, and descends into containers only")
    func walk() throws {
        var buffer = ByteBuffer()
        buffer.writeBytes([0, 0, 0, 12] + Array("free".utf8) + [1, 2, 3, 4])
        buffer.writeBytes([0, 0, 0, 24] + Array("moov".utf8))
        buffer.writeBytes([0, 0, 0, 16] + Array("udta".utf8) + [0, 0, 0, 8] + Array("meta".utf8))
        let boxes = try ISOBMFFReader.boxes(in: buffer)
        #expect(boxes.map(\.type) == ["free", "moov"])
        #expect(boxes[0].payload.readableBytesArray == [1, 2, 3, 4])
        #expect(boxes[0].children.isEmpty)
        #expect(boxes[1].offset == 12)
        #expect(boxes[1].size == 24)
        #expect(boxes[1].children.map(\.type) == ["udta"])
        #expect(boxes[1].children[0].offset == 20)
        #expect(boxes[1].descendant("udta", "meta")?.offset == 28)
    }

    @Test("honours a 64-bit largesize and a size 0 box that runs to the end")
    func sizeEscapes() throws {
        var buffer = ByteBuffer()
        buffer.writeBytes([0, 0, 0, 1] + Array("mdat".utf8) + [0, 0, 0, 0, 0, 0, 0, 18, 0xAB, 0xCD])
        buffer.writeBytes([0, 0, 0, 0] + Array("mdat".utf8) + [1, 2, 3])
        let boxes = try ISOBMFFReader.boxes(in: buffer)
        #expect(boxes.count == 2)
        #expect(boxes[0].headerSize == 16)
        #expect(boxes[0].payload.readableBytesArray == [0xAB, 0xCD])
        #expect(boxes[1].size == 11)
        #expect(boxes[1].payload.readableBytesArray == [1, 2, 3])
    }

    @Test("offsets count from the reader index of the buffer it was given")
    func readerIndex() throws {
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0, 0, 0, 8] + Array("free".utf8))
        buffer.moveReaderIndex(forwardBy: 2)
        let boxes = try ISOBMFFReader.boxes(in: buffer)
        #expect(boxes.first?.offset == 0)
    }

    @Test("throws on malformed input", arguments: [
        ([0, 0, 0], "header cut short"),
        ([0, 0, 0, 16] + Array("free".utf8) + [0], "box longer than the input"),
        ([0, 0, 0, 4] + Array("free".utf8), "size smaller than the header"),
        ([0, 0, 0, 1] + Array("mdat".utf8) + [0, 0], "largesize cut short"),
        ([0, 0, 0, 1] + Array("mdat".utf8) + [0, 0, 0, 0, 0, 0, 0, 8], "largesize smaller than the header"),
        ([0, 0, 0, 16] + Array("moov".utf8) + [0, 0, 0, 9] + Array("trak".utf8), "child overruns its parent"),
        ([0, 0, 0, 12] + Array("stsd".utf8) + [0, 0, 0, 0], "stsd without its entry count"),
        ([0, 0, 0, 20] + Array("uuid".utf8) + [0, 0, 0, 0], "uuid without its extended type"),
    ] as [([UInt8], String)])
    func malformed(bytes: [UInt8], reason: String) {
        #expect(throws: MediaFormatError.self, "\(reason)") { try ISOBMFFReader.boxes(in: ByteBuffer(bytes: bytes)) }
    }

    @Test("rejects containers nested deeper than the limit instead of recursing without end")
    func deepNesting() {
        var bytes: [UInt8] = []
        for level in 0..<40 {
            let size = UInt32(8 * (40 - level))
            bytes += withUnsafeBytes(of: size.bigEndian, Array.init) + Array("moov".utf8)
        }
        #expect(throws: MediaFormatError.self) { try ISOBMFFReader.boxes(in: ByteBuffer(bytes: bytes)) }
    }

    @Test("decoders refuse a box of another type and short payloads")
    func decoderChecks() throws {
        let tfdt = try #require(try ISOBMFFReader.boxes(in: ByteBuffer(bytes: [0, 0, 0, 12] + Array("tfdt".utf8) + [1, 0, 0, 0])).first)
        #expect(throws: MediaFormatError.self) { try tfdt.decodeTrackRun() }
        #expect(throws: MediaFormatError.self) { try tfdt.decodeBaseMediaDecodeTime() }
        let trun = try #require(
            try ISOBMFFReader.boxes(
                in: ByteBuffer(bytes: [0, 0, 0, 20] + Array("trun".utf8) + [1, 0, 0x03, 0x01] + [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0])
            ).first)
        #expect(throws: MediaFormatError.self) { try trun.decodeTrackRun() }
    }

    @Test("never traps on random bytes or on every truncation of a real init segment and fragment")
    func fuzz() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? ISOBMFFReader.boxes(in: ByteBuffer(bytes: bytes))
        }
        var whole = FMP4.initSegment(tracks: try FMP4InitSegmentTests.tracks())
        var fragment = FMP4.fragment(sequenceNumber: 1, runs: [FMP4FragmentTests.videoRun, FMP4FragmentTests.audioRun])
        whole.writeBuffer(&fragment)
        for length in 0..<whole.readableBytes {
            let prefix = try #require(whole.getSlice(at: 0, length: length))
            if let boxes = try? ISOBMFFReader.boxes(in: prefix) {
                // A cut exactly between boxes parses; then decoding every box we know must not trap either.
                for box in boxes { decodeAll(box) }
            }
        }
    }

    private func decodeAll(_ box: ISOBox) {
        _ = try? box.decodeTrackRun()
        _ = try? box.decodeBaseMediaDecodeTime()
        _ = try? box.decodeTrackHeader()
        _ = try? box.decodeMediaTimescale()
        _ = try? box.decodeMovieFragmentSequenceNumber()
        for child in box.children { decodeAll(child) }
    }
}
