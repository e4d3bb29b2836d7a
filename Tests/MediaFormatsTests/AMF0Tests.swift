import MediaFormats
import NIOCore
import Testing

@Suite("AMF0")
struct AMF0Tests {
    static let values: [AMF0Value] = [
        .number(0), .number(-1.5), .number(.infinity), .boolean(true), .boolean(false), .string(""), .string("héllo ✓"),
        .null, .undefined, .date(1_700_000_000_000),
        .object([("app", .string("live")), ("n", .number(3)), ("nested", .object([("deep", .boolean(true))]))]),
        .ecmaArray([("width", .number(1280)), ("height", .number(720))]),
        .strictArray([.number(1), .string("two"), .null]),
        .string(String(repeating: "x", count: 70_000)),
    ]

    @Test("every kind of value survives a round trip", arguments: values.indices)
    func roundTrip(_ index: Int) throws {
        var buffer = ByteBuffer()
        AMF0.encode(Self.values[index], into: &buffer)
        let decoded = try AMF0.decode(&buffer)
        #expect(decoded == Self.values[index])
        #expect(buffer.readableBytes == 0)
    }

    @Test("the connect command ffmpeg sends decodes to its name, transaction and app")
    func realConnect() throws {
        // ffmpeg's first chunk stream bytes after the handshake: a type-0 header (csid 3, 140 bytes, type 20) and the
        // message split at the default 128-byte chunk size with one type-3 continuation byte (0xC3).
        let raw = try MediaFixtureFiles.bytes("ffmpeg-rtmp-connect.bin")
        #expect(raw[0] == 0x03 && raw[7] == 20)
        let length = Int(raw[4]) << 16 | Int(raw[5]) << 8 | Int(raw[6])
        var body = Array(raw[12..<(12 + 128)])
        #expect(raw[12 + 128] == 0xC3)
        body += raw[(12 + 129)..<(12 + 129 + length - 128)]
        var buffer = ByteBuffer(bytes: body)
        let values = try AMF0.decodeAll(&buffer)
        #expect(values.first == .string("connect"))
        #expect(values[1] == .number(1))
        #expect(values[2]["app"] == .string("live"))
        #expect(values[2]["tcUrl"]?.stringValue?.hasPrefix("rtmp://127.0.0.1") == true)
        #expect(values[2]["flashVer"]?.stringValue?.hasPrefix("FMLE/3.0") == true)
    }

    static let malformed: [(String, [UInt8])] = [
        ("empty", []),
        ("unknown marker", [0x42]),
        ("truncated number", [0x00, 0x3F, 0xF0]),
        ("string longer than the input", [0x02, 0x00, 0x10, 0x61]),
        ("object without its end", [0x03, 0x00, 0x01, 0x61, 0x00]),
        ("strict array count beyond the input", [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x05]),
        ("object end out of place", [0x09]),
        ("nesting deeper than the limit", Array(repeating: [0x03, 0x00, 0x01, 0x61], count: 40).flatMap { $0 }),
    ]

    @Test("malformed AMF0 throws instead of trapping", arguments: malformed.map(\.0))
    func malformedInput(_ name: String) throws {
        let bytes = try #require(Self.malformed.first { $0.0 == name }?.1)
        var buffer = ByteBuffer(bytes: bytes)
        #expect(throws: MediaFormatError.self) { _ = try AMF0.decode(&buffer) }
    }

    @Test("random bytes never trap the decoder")
    func fuzz() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let count = Int.random(in: 0...64, using: &generator)
            var buffer = ByteBuffer(bytes: (0..<count).map { _ in UInt8.random(in: 0...0x12, using: &generator) })
            _ = try? AMF0.decodeAll(&buffer)
        }
    }
}

@Suite("FLV tag bodies")
struct FLVTagTests {
    @Test("AVC and AAC tag bodies round trip, composition time sign included")
    func roundTrip() throws {
        var buffer = ByteBuffer()
        FLVTagBody.writeVideo(.avcNALUnits(isKeyframe: false, compositionTime: -33, data: ByteBuffer(bytes: [0, 0, 0, 1, 0x41])), into: &buffer)
        #expect(try FLVTagBody.video(buffer) == .avcNALUnits(isKeyframe: false, compositionTime: -33, data: ByteBuffer(bytes: [0, 0, 0, 1, 0x41])))
        var header = ByteBuffer()
        FLVTagBody.writeVideo(.avcSequenceHeader([1, 0x64, 0, 0x1F]), into: &header)
        #expect(try FLVTagBody.video(header) == .avcSequenceHeader([1, 0x64, 0, 0x1F]))
        var audio = ByteBuffer()
        FLVTagBody.writeAudio(.aacFrame(ByteBuffer(bytes: [0x21, 0x10])), into: &audio)
        #expect(try FLVTagBody.audio(audio) == .aacFrame(ByteBuffer(bytes: [0x21, 0x10])))
    }

    @Test("other codecs are reported, not guessed at", arguments: [[0x12, 0, 0, 0], [0x97, 0x68, 0x76, 0x63, 0x31]])
    func unsupportedVideo(_ bytes: [UInt8]) throws {
        guard case .unsupported = try FLVTagBody.video(ByteBuffer(bytes: bytes)) else {
            Issue.record("expected .unsupported")
            return
        }
    }

    @Test("the bundled-style FLV fixture reads into tags with rising timestamps")
    func flvFile() throws {
        let file = try FLVFileReader(ByteBuffer(bytes: try MediaFixtureFiles.bytes(MediaFixtureFiles.flv360p)))
        let video = file.tags.filter { $0.type == 9 }
        #expect(video.count > 50)
        #expect(video.map(\.timestamp) == video.map(\.timestamp).sorted())
    }
}
