import Logging
import MediaFormats
import NIOCore
import NIOPosix
import RTMP
import Synchronization
import Testing

@Suite("RTMPAdmission: connection caps in total and per address")
struct RTMPAdmissionTests {
    @Test("an address at its cap is refused while another address still gets in, and a close frees the slot")
    func perAddress() {
        var admission = RTMPAdmission(limits: RTMPConnectionLimits(maximumConnections: 100, maximumConnectionsPerAddress: 2))
        #expect(admission.admit("10.0.0.1") == .admit)
        #expect(admission.admit("10.0.0.1") == .admit)
        #expect(admission.admit("10.0.0.1") == .addressFull(limit: 2))
        #expect(admission.admit("10.0.0.2") == .admit)
        admission.release("10.0.0.1")
        #expect(admission.admit("10.0.0.1") == .admit)
        #expect(admission.total == 3)
    }

    @Test("the total cap refuses every address, and a refused connection takes no slot")
    func total() {
        var admission = RTMPAdmission(limits: RTMPConnectionLimits(maximumConnections: 3, maximumConnectionsPerAddress: 10))
        for i in 0..<3 { #expect(admission.admit("10.0.0.\(i)") == .admit) }
        #expect(admission.admit("10.0.0.9") == .serverFull(limit: 3))
        #expect(admission.total == 3)
        #expect(admission.count(from: "10.0.0.9") == 0)
        admission.release("10.0.0.0")
        #expect(admission.admit("10.0.0.9") == .admit)
    }

    @Test("addresses with no open connection are forgotten")
    func forgets() {
        var admission = RTMPAdmission(limits: RTMPConnectionLimits())
        for i in 0..<500 {
            #expect(admission.admit("10.0.\(i / 256).\(i % 256)") == .admit)
            admission.release("10.0.\(i / 256).\(i % 256)")
        }
        #expect(admission.addressCount == 0)
        #expect(admission.total == 0)
        admission.release("never-seen")
        #expect(admission.total == 0)
    }

    @Test("IPv6 clients are counted per /64, IPv4-mapped ones as their IPv4 address", arguments: [
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb:cccc:dddd:eeee", "2001:db8:1:2::/64"),
        ("2001:db8::1", "2001:db8:0:0::/64"),
        ("::1", "0:0:0:0::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("192.0.2.7", "192.0.2.7"),
    ])
    func addressKeys(ip: String, key: String) {
        #expect(RTMPAdmission.key(forIP: ip) == key)
    }
}

@Suite("RTMPLiveness: the setup and progress deadlines")
struct RTMPLivenessTests {
    let limits = RTMPConnectionLimits(setupTimeout: .seconds(10), idleTimeout: .seconds(30))
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test("a connection without an accepted publish is closed at the setup timeout, however busy it is")
    func setupTimeout() {
        var liveness = RTMPLiveness(limits: limits, openedAt: t0)
        #expect(liveness.verdict(at: t0) == .open(until: t0 + .seconds(10)))
        for s in 1..<10 { liveness.progressed(at: t0 + .seconds(Int64(s))) }
        #expect(liveness.verdict(at: t0 + .milliseconds(9_999)) == .open(until: t0 + .seconds(10)))
        #expect(liveness.verdict(at: t0 + .seconds(10)) == .close(.setupTimedOut(.seconds(10))))
    }

    @Test("a publisher is closed only after the idle timeout without a whole message")
    func idleAfterPublish() {
        var liveness = RTMPLiveness(limits: limits, openedAt: t0)
        liveness.publishAccepted(at: t0 + .seconds(2))
        #expect(liveness.verdict(at: t0 + .seconds(20)) == .open(until: t0 + .seconds(32)))
        liveness.progressed(at: t0 + .seconds(31))
        #expect(liveness.verdict(at: t0 + .seconds(60)) == .open(until: t0 + .seconds(61)))
        #expect(liveness.verdict(at: t0 + .seconds(61)) == .close(.idle(.seconds(30))))
    }

    @Test("a publisher that unpublishes has a new setup timeout to publish again")
    func unpublish() {
        var liveness = RTMPLiveness(limits: limits, openedAt: t0)
        liveness.publishAccepted(at: t0 + .seconds(1))
        liveness.unpublished(at: t0 + .seconds(100))
        #expect(liveness.verdict(at: t0 + .seconds(105)) == .open(until: t0 + .seconds(110)))
        #expect(liveness.verdict(at: t0 + .seconds(110)) == .close(.setupTimedOut(.seconds(10))))
    }

    @Test("with an idle timeout shorter than the setup timeout, silence before publish closes first")
    func idleBeforeSetup() {
        let liveness = RTMPLiveness(limits: RTMPConnectionLimits(setupTimeout: .seconds(10), idleTimeout: .seconds(3)), openedAt: t0)
        #expect(liveness.verdict(at: t0 + .seconds(1)) == .open(until: t0 + .seconds(3)))
        #expect(liveness.verdict(at: t0 + .seconds(3)) == .close(.idle(.seconds(3))))
    }
}

@Suite("ChunkDecoder: the limits before the stream key is checked")
struct BeforePublishLimitTests {
    @Test("before publish, a message announced over 8 KiB is refused at its first chunk")
    func largeMessage() throws {
        var decoder = ChunkDecoder(limits: .beforePublish)
        var chunks = ChunkBytes()
        chunks.type0(csid: 6, timestamp: 0, length: 8 << 20, type: 9)
        chunks.body(pattern(128))
        var buffer = ByteBuffer(bytes: chunks.bytes)
        #expect(throws: RTMPError.messageTooLarge(8 << 20, limit: 8 << 10)) {
            _ = try decodeMessages(&buffer, with: &decoder)
        }
    }

    @Test("before publish, partial messages may hold 16 KiB in all")
    func bufferedBytes() throws {
        var decoder = ChunkDecoder(limits: .beforePublish)
        var chunks = ChunkBytes()
        // Three 8 KiB messages begun on three chunk streams, none finished.
        for csid: UInt8 in [4, 5, 6] {
            chunks.type0(csid: csid, timestamp: 0, length: 8 << 10, type: 9)
            chunks.body(pattern(128))
        }
        for _ in 0..<64 {
            for csid: UInt8 in [4, 5, 6] {
                chunks.type3(csid: csid)
                chunks.body(pattern(128))
            }
        }
        var buffer = ByteBuffer(bytes: chunks.bytes)
        #expect {
            _ = try decodeMessages(&buffer, with: &decoder)
        } throws: { error in
            guard case let .bufferedTooMuch(_, limit) = error as? RTMPError else { return false }
            return limit == 16 << 10
        }
    }

    @Test("after the key is accepted, the media limits apply")
    func raised() throws {
        var decoder = ChunkDecoder(limits: .beforePublish)
        decoder.raiseLimits(to: ChunkDecoder.Limits())
        #expect(decoder.limits == ChunkDecoder.Limits())
        try decoder.setChunkSize(4096)
        let message = rtmpMessage(.video, payload: pattern(100_000))
        var buffer = encodeChunks([message], chunkSize: 4096)
        let messages = try decodeMessages(&buffer, with: &decoder)
        #expect(messages.count == 1)
        #expect(messages.first?.payload.readableBytes == 100_000)
    }

    @Test("an OBS-sized connect fits the limits before publish")
    func connectFits() throws {
        var decoder = ChunkDecoder(limits: .beforePublish)
        let connect = RTMPMessage.command([
            "connect", 1,
            AMF0Value.object([
                ("app", .string("live")), ("type", .string("nonprivate")), ("flashVer", .string("FMLE/3.0 (compatible; FMSc/1.0)")),
                ("swfUrl", .string("rtmp://example.com/live")), ("tcUrl", .string("rtmp://example.com/live")),
                ("fourCcList", .strictArray([.string("av01"), .string("vp09"), .string("hvc1")])),
            ]),
        ])
        var buffer = encodeChunks([connect])
        #expect(try decodeMessages(&buffer, with: &decoder).count == 1)
    }
}

/// A TCP client from a chosen loopback address, to play an attacker against the real listener.
private enum Peer {
    static func connect(port: Int, from source: String = "127.0.0.1") async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(to: try SocketAddress(ipAddress: source, port: 0))
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
    }

    /// Reads until the server closes, and returns how long that took; nil if it did not close within `timeout`.
    static func timeToClose(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, trickle: Bool = false,
                            timeout: Duration) async throws -> Duration? {
        let start = ContinuousClock.now
        return try await channel.executeThenClose { inbound, outbound in
            await withTaskGroup(of: Duration?.self) { group in
                group.addTask {
                    do { for try await _ in inbound {} } catch {}
                    return ContinuousClock.now - start
                }
                group.addTask {
                    // One byte of C1 every 100 ms: never a whole handshake packet.
                    if trickle {
                        try? await outbound.write(ByteBuffer(bytes: [3]))
                        while !Task.isCancelled {
                            try? await Task.sleep(for: .milliseconds(100))
                            try? await outbound.write(ByteBuffer(bytes: [0]))
                        }
                    }
                    try? await Task.sleep(for: timeout)
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
        }
    }
}

private struct RefusingAuthorizer: RTMPPublishAuthorizer {
    func authorize(app: String, streamKey: String, remoteAddress: String) async -> RTMPPublishDecision {
        .refuse(code: "NetStream.Publish.BadName", description: "Unknown stream key.")
    }
}

@Suite("RTMPListener: caps and deadlines on real sockets")
struct RTMPListenerLimitTests {
    static func listener(_ limits: RTMPConnectionLimits) async throws -> any Channel {
        var logger = Logger(label: "rtmp-limits-test")
        logger.logLevel = .critical
        return try await RTMPListener.bind(
            host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton, authorizer: RefusingAuthorizer(),
            connectionLimits: limits, connections: RTMPConnectionSet(), logger: logger
        )
    }

    @Test("a peer that trickles a byte every 100 ms is closed at the setup timeout, not kept alive by its bytes")
    func trickle() async throws {
        let listener = try await Self.listener(RTMPConnectionLimits(setupTimeout: .milliseconds(800), idleTimeout: .seconds(30)))
        let port = listener.localAddress?.port ?? 0
        let peer = try await Peer.connect(port: port)
        let closedAfter = try await Peer.timeToClose(peer, trickle: true, timeout: .seconds(5))
        #expect(closedAfter != nil, "the trickling peer was closed")
        if let closedAfter { #expect(closedAfter >= .milliseconds(700) && closedAfter < .seconds(3)) }
        try await listener.close()
    }

    @Test("past its per-address cap an address is closed at once, and another address is still let in")
    func perAddressCap() async throws {
        let listener = try await Self.listener(RTMPConnectionLimits(maximumConnections: 100, maximumConnectionsPerAddress: 3,
                                                                    setupTimeout: .seconds(20)))
        let port = listener.localAddress?.port ?? 0
        var held: [NIOAsyncChannel<ByteBuffer, ByteBuffer>] = []
        for _ in 0..<3 { held.append(try await Peer.connect(port: port, from: "127.0.0.2")) }
        try await Task.sleep(for: .milliseconds(200))
        let refused = try await Peer.timeToClose(try await Peer.connect(port: port, from: "127.0.0.2"), timeout: .seconds(3))
        #expect(refused != nil && (refused ?? .zero) < .seconds(1), "the fourth connection from 127.0.0.2 is closed at once")
        let other = try await Peer.timeToClose(try await Peer.connect(port: port, from: "127.0.0.3"), timeout: .milliseconds(800))
        #expect(other == nil, "127.0.0.3 is still let in")
        for channel in held { try? await channel.channel.close() }
        try await listener.close()
    }
}
