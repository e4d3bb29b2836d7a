import NIOCore

/// The server side of the RTMP handshake (RTMP specification 1.0, §5.2): C0+C1 in, S0+S1+S2 out, C2 in.
///
/// We answer with the simple handshake: S1 carries zero in its version field, which tells digest-capable clients
/// (ffmpeg, OBS's librtmp) not to expect the Flash Player 9 digest, and S2 echoes C1.
public struct ServerHandshake: Sendable {
    public static let packetSize = 1536

    public enum State: Sendable, Equatable {
        case awaitingC0C1
        case awaitingC2
        case done
    }

    public enum Action: Sendable {
        case needMoreData
        /// Write these bytes (S0+S1+S2) and read on.
        case send(ByteBuffer)
        /// The handshake is over; whatever is left in the buffer is chunk stream data.
        case complete
    }

    public private(set) var state: State = .awaitingC0C1
    private let serverEpoch: UInt32

    public init(serverEpoch: UInt32 = 0) {
        self.serverEpoch = serverEpoch
    }

    /// Consumes handshake bytes from `buffer`, leaving anything after them in place.
    public mutating func feed(_ buffer: inout ByteBuffer, allocator: ByteBufferAllocator) throws(RTMPError) -> Action {
        switch state {
        case .awaitingC0C1:
            guard buffer.readableBytes >= 1 + Self.packetSize else { return .needMoreData }
            let version = buffer.readInteger(as: UInt8.self) ?? 0
            // Version 3 is plain RTMP; 6 is RTMPE, which we do not speak.
            guard version == 3 else { throw .unsupportedVersion(version) }
            guard let c1 = buffer.readSlice(length: Self.packetSize) else { return .needMoreData }
            var out = allocator.buffer(capacity: 1 + 2 * Self.packetSize)
            out.writeInteger(UInt8(3))
            out.writeInteger(serverEpoch)
            out.writeInteger(UInt32(0))
            var random = SystemRandomNumberGenerator()
            for _ in 0..<((Self.packetSize - 8) / 8) { out.writeInteger(random.next() as UInt64) }
            out.writeImmutableBuffer(c1)
            state = .awaitingC2
            return .send(out)
        case .awaitingC2:
            guard buffer.readableBytes >= Self.packetSize else { return .needMoreData }
            buffer.moveReaderIndex(forwardBy: Self.packetSize)
            state = .done
            return .complete
        case .done:
            return .complete
        }
    }
}

/// The client side of the simple handshake, for the push client (relays, benchmarks).
public struct ClientHandshake: Sendable {
    public enum State: Sendable, Equatable { case initial, awaitingS0S1S2, done }
    public private(set) var state: State = .initial

    public init() {}

    /// C0+C1 to send first.
    public mutating func start(allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: 1 + ServerHandshake.packetSize)
        out.writeInteger(UInt8(3))
        out.writeInteger(UInt32(0))
        out.writeInteger(UInt32(0))
        var random = SystemRandomNumberGenerator()
        for _ in 0..<((ServerHandshake.packetSize - 8) / 8) { out.writeInteger(random.next() as UInt64) }
        state = .awaitingS0S1S2
        return out
    }

    /// Consumes S0+S1+S2 and returns C2 (an echo of S1), or nil while more bytes are needed.
    public mutating func feed(_ buffer: inout ByteBuffer) throws(RTMPError) -> ByteBuffer? {
        guard state == .awaitingS0S1S2, buffer.readableBytes >= 1 + 2 * ServerHandshake.packetSize else { return nil }
        let version = buffer.readInteger(as: UInt8.self) ?? 0
        guard version == 3 else { throw .unsupportedVersion(version) }
        guard let s1 = buffer.readSlice(length: ServerHandshake.packetSize) else { return nil }
        buffer.moveReaderIndex(forwardBy: ServerHandshake.packetSize)
        state = .done
        return s1
    }
}
