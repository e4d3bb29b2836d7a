import NIOCore
import RTMP
import Testing

/// A chunk stream a peer should not send, and the error that closes its connection.
struct BadChunkStream: Sendable, CustomTestStringConvertible {
    var name: String
    var limits = ChunkDecoder.Limits()
    var bytes: [UInt8]
    var error: RTMPError

    var testDescription: String { name }

    init(_ name: String, error: RTMPError, limits: ChunkDecoder.Limits = .init(), build: (inout ChunkBytes) -> Void) {
        self.name = name
        self.error = error
        self.limits = limits
        var chunks = ChunkBytes()
        build(&chunks)
        bytes = chunks.bytes
    }

    static func limits(_ change: (inout ChunkDecoder.Limits) -> Void) -> ChunkDecoder.Limits {
        var limits = ChunkDecoder.Limits()
        change(&limits)
        return limits
    }

    /// A Set Chunk Size message (§5.4.1) on the control chunk stream.
    static func setChunkSize(_ size: UInt32, into chunks: inout ChunkBytes) {
        chunks.type0(csid: 2, timestamp: 0, length: 4, type: 1)
        chunks.uint32(size)
    }

    static let all: [BadChunkStream] = [
        BadChunkStream("a message longer than the maximum message size", error: .messageTooLarge(1001, limit: 1000),
                       limits: limits { $0.maximumMessageSize = 1000 }) {
            $0.type0(csid: 6, timestamp: 0, length: 1001, type: 9)
            $0.body(pattern(128))
        },
        BadChunkStream("a type 1 header growing a message past the maximum", error: .messageTooLarge(2000, limit: 1000),
                       limits: limits { $0.maximumMessageSize = 1000 }) {
            $0.type0(csid: 6, timestamp: 0, length: 1, type: 9)
            $0.body([0])
            $0.type1(csid: 6, delta: 1, length: 2000, type: 9)
        },
        BadChunkStream("a Set Chunk Size above the maximum chunk size", error: .chunkTooLarge(65_537, limit: 65_536),
                       limits: limits { $0.maximumChunkSize = 65_536 }) {
            setChunkSize(65_537, into: &$0)
        },
        BadChunkStream("a Set Chunk Size of zero", error: .protocolViolation("Set Chunk Size 0")) {
            setChunkSize(0, into: &$0)
        },
        BadChunkStream("a Set Chunk Size of zero hidden behind the reserved top bit", error: .protocolViolation("Set Chunk Size 0")) {
            setChunkSize(0x8000_0000, into: &$0)
        },
        BadChunkStream("more partial messages than the chunk stream limit", error: .tooManyChunkStreams(limit: 2),
                       limits: limits { $0.maximumChunkStreams = 2 }) {
            for csid: UInt8 in [4, 5, 6] {
                $0.type0(csid: csid, timestamp: 0, length: 500, type: 9)
                $0.body(pattern(128))
            }
        },
        BadChunkStream("more partial bytes than the buffered limit", error: .bufferedTooMuch(256, limit: 200),
                       limits: limits { $0.maximumBufferedBytes = 200 }) {
            for csid: UInt8 in [4, 6] {
                $0.type0(csid: csid, timestamp: 0, length: 500, type: 9)
                $0.body(pattern(128))
            }
        },
        BadChunkStream("a type 3 chunk before any header on its chunk stream", error: .continuationWithoutHeader(chunkStream: 7)) {
            $0.type3(csid: 7)
            $0.body([1, 2, 3])
        },
        BadChunkStream("a type 1 chunk before any header on its chunk stream", error: .continuationWithoutHeader(chunkStream: 8)) {
            $0.type1(csid: 8, delta: 0, length: 1, type: 9)
            $0.body([1])
        },
        BadChunkStream("a type 2 chunk before any header on its chunk stream", error: .continuationWithoutHeader(chunkStream: 9)) {
            $0.type2(csid: 9, delta: 0)
            $0.body([1])
        },
        BadChunkStream("a message type id the specification does not define", error: .unknownMessageType(7)) {
            $0.type0(csid: 3, timestamp: 0, length: 2, type: 7)
            $0.body([0, 0])
        },
        BadChunkStream("a new header in the middle of a message",
                       error: .protocolViolation("chunk stream 6 got a new header in the middle of a message")) {
            $0.type0(csid: 6, timestamp: 0, length: 300, type: 9)
            $0.body(pattern(128))
            $0.type0(csid: 6, timestamp: 40, length: 10, type: 9)
            $0.body(pattern(10))
        },
        BadChunkStream("a type 2 header in the middle of a message",
                       error: .protocolViolation("chunk stream 6 got a new header in the middle of a message")) {
            $0.type0(csid: 6, timestamp: 0, length: 300, type: 9)
            $0.body(pattern(128))
            $0.type2(csid: 6, delta: 40)
            $0.body(pattern(128))
        },
        BadChunkStream("a Set Chunk Size without its four bytes", error: .malformedMessage("Set Chunk Size")) {
            $0.type0(csid: 2, timestamp: 0, length: 2, type: 1)
            $0.body([0, 1])
        },
    ]
}

@Suite("Chunk stream limits")
struct ChunkLimitTests {
    /// Feeds the bytes through the chunk decoder into a server session, as the connection handler does.
    static func run(_ bytes: [UInt8], limits: ChunkDecoder.Limits) throws(RTMPError) {
        var harness = SessionHarness(decoder: ChunkDecoder(limits: limits))
        var buffer = ByteBuffer(bytes: bytes)
        _ = try harness.feed(&buffer)
    }

    @Test("a peer breaking a limit or the chunk format is refused with the matching error", arguments: BadChunkStream.all)
    func refused(stream: BadChunkStream) {
        #expect(throws: stream.error) {
            try Self.run(stream.bytes, limits: stream.limits)
        }
    }

    @Test("a Set Chunk Size at the maximum is accepted")
    func chunkSizeAtLimit() throws {
        var limits = ChunkDecoder.Limits()
        limits.maximumChunkSize = 65_536
        var harness = SessionHarness(decoder: ChunkDecoder(limits: limits))
        var chunks = ChunkBytes()
        BadChunkStream.setChunkSize(65_536, into: &chunks)
        var buffer = ByteBuffer(bytes: chunks.bytes)
        _ = try harness.feed(&buffer)
        #expect(harness.decoder.chunkSize == 65_536)
    }

    @Test("a message exactly at the maximum size is delivered")
    func messageAtLimit() throws {
        var limits = ChunkDecoder.Limits()
        limits.maximumMessageSize = 1000
        var decoder = ChunkDecoder(limits: limits)
        var wire = encodeChunks([rtmpMessage(.video, csid: 6, payload: pattern(1000))])
        #expect(try decodeMessages(&wire, with: &decoder).map(\.payload.readableBytes) == [1000])
    }
}
