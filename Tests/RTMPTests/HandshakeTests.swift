import NIOCore
import RTMP
import Testing

@Suite("Server handshake")
struct HandshakeTests {
    static let size = ServerHandshake.packetSize

    /// C0 (version 3) and a C1 whose bytes can be recognised in S2.
    static func c0c1(version: UInt8 = 3) -> [UInt8] {
        [version] + [0, 0, 0x12, 0x34, 0, 0, 0, 0] + pattern(size - 8, seed: 42)
    }

    @Test("C0+C1 is answered with S0, S1 with a zero version field, and S2 echoing C1")
    func answersC0C1() throws {
        var handshake = ServerHandshake(serverEpoch: 0xCAFE_F00D)
        var input = ByteBuffer(bytes: Self.c0c1())
        guard case let .send(reply) = try handshake.feed(&input, allocator: ByteBufferAllocator()) else {
            Issue.record("expected S0+S1+S2")
            return
        }
        let bytes = reply.bytes
        #expect(bytes.count == 1 + 2 * Self.size)
        #expect(bytes[0] == 3)
        let s1 = Array(bytes[1..<(1 + Self.size)])
        #expect(s1[0..<4] == [0xCA, 0xFE, 0xF0, 0x0D], "S1 time is the server epoch")
        #expect(s1[4..<8] == [0, 0, 0, 0], "a zero version field selects the simple handshake")
        let s2 = Array(bytes[(1 + Self.size)...])
        #expect(s2 == Array(Self.c0c1()[1...]))
        #expect(input.readableBytes == 0)
        #expect(handshake.state == .awaitingC2)
    }

    @Test("C2 completes the handshake and the bytes after it stay in the buffer for the chunk decoder")
    func completesOnC2() throws {
        var handshake = ServerHandshake()
        var input = ByteBuffer(bytes: Self.c0c1())
        _ = try handshake.feed(&input, allocator: ByteBufferAllocator())
        let afterC2: [UInt8] = [0x03, 0x00, 0x00, 0x00]
        input.writeBytes(pattern(Self.size, seed: 9) + afterC2)
        guard case .complete = try handshake.feed(&input, allocator: ByteBufferAllocator()) else {
            Issue.record("expected the handshake to complete")
            return
        }
        #expect(handshake.state == .done)
        #expect(input.bytes == afterC2)
    }

    @Test("C0 and C1 arriving in several reads are answered only once all 1537 bytes are there")
    func waitsForWholeC1() throws {
        var handshake = ServerHandshake()
        var input = ByteBuffer()
        input.writeBytes(Self.c0c1().prefix(700))
        guard case .needMoreData = try handshake.feed(&input, allocator: ByteBufferAllocator()) else {
            Issue.record("answered before C1 was complete")
            return
        }
        #expect(input.readableBytes == 700, "nothing is consumed while waiting")
        input.writeBytes(Self.c0c1().dropFirst(700))
        guard case .send = try handshake.feed(&input, allocator: ByteBufferAllocator()) else {
            Issue.record("expected S0+S1+S2")
            return
        }
    }

    @Test("the whole handshake fed one byte at a time sends S0+S1+S2 once and completes after the last byte of C2")
    func byteAtATime() throws {
        var handshake = ServerHandshake()
        var input = ByteBuffer()
        let client = Self.c0c1() + pattern(Self.size, seed: 3)
        var replies = 0
        var completedAt: Int?
        for (index, byte) in client.enumerated() {
            input.writeInteger(byte)
            switch try handshake.feed(&input, allocator: ByteBufferAllocator()) {
            case .needMoreData: break
            case .send: replies += 1
            case .complete: completedAt = completedAt ?? index
            }
        }
        #expect(replies == 1)
        #expect(completedAt == client.count - 1)
        #expect(input.readableBytes == 0)
    }

    @Test("a C0 asking for another RTMP version is refused", arguments: [0, 6, 8, 0x03 + 0x80] as [UInt8])
    func wrongVersion(version: UInt8) {
        var handshake = ServerHandshake()
        var input = ByteBuffer(bytes: Self.c0c1(version: version))
        #expect(throws: RTMPError.unsupportedVersion(version)) {
            try handshake.feed(&input, allocator: ByteBufferAllocator())
        }
    }

    @Test("our client handshake and the server handshake complete against each other")
    func clientAgainstServer() throws {
        var client = ClientHandshake()
        var server = ServerHandshake()
        var toServer = client.start(allocator: ByteBufferAllocator())
        guard case var .send(toClient) = try server.feed(&toServer, allocator: ByteBufferAllocator()) else {
            Issue.record("expected S0+S1+S2")
            return
        }
        let s1 = Array(toClient.bytes[1..<(1 + Self.size)])
        var c2 = try #require(try client.feed(&toClient))
        #expect(c2.bytes == s1, "C2 echoes S1")
        guard case .complete = try server.feed(&c2, allocator: ByteBufferAllocator()) else {
            Issue.record("expected the server to complete")
            return
        }
        #expect(client.state == .done)
    }
}
