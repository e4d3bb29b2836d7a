import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import Synchronization
import WebRTC

/// `liveloop bench webrtc --client native`: many WHEP viewers in this process, light enough that the server, not the
/// client, is what runs out. Each viewer POSTs an offer (from its own 127.0.0.x address: a node holds at most 8 sessions
/// per client address), answers the server's ICE-lite with a Binding request, does the DTLS handshake as the client
/// (OpenSSL, like the server), and then only counts: SRTP packets (their headers are clear text), frames (marker bits) and
/// packets lost (gaps in the sequence numbers; nothing is NACKed). It does not decrypt or decode: aiortc
/// (Tests/python/whep_client.py) is the independent viewer that checks the media itself.
enum WHEPLoadClient {
    struct Report: Sendable {
        var viewers: Int
        var connected: Int
        var refused: Int
        var seconds: Double
        var frames: Int
        var packets: Int
        var lost: Int
    }

    /// Connects `count` viewers to `channel`, waits until they are connected (at most `allowance`), then counts for
    /// `window`; `measuring` runs over that same window (the server's CPU). Every session is ended (DELETE) after.
    static func run(host: String, port: Int, channel: String, count: Int, allowance: Duration, window: Duration,
                    measuring: @Sendable (ContinuousClock.Instant, ContinuousClock.Instant) async -> ServerCost?) async throws -> (Report, ServerCost?) {
        let context = try DTLSContext(client: true)
        var viewers: [LoadViewer] = []
        var refused = 0
        for number in 0..<count {
            let source = "127.0.\(1 + number / 8 / 250).\(2 + number / 8 % 250)"
            let ufrag = randomICE(8), password = randomICE(24)
            let offer = offerSDP(ufrag: ufrag, password: password, fingerprint: context.fingerprint)
            guard let (status, answer, location) = try? await post(host: host, port: port, path: "/live/\(channel)/whep", body: offer, source: source),
                  status == 201, let remote = Answer(answer) else {
                refused += 1
                continue
            }
            let viewer = try LoadViewer(context: context, local: ufrag, remote: remote, location: location, source: source)
            try await viewer.open(host: host)
            viewers.append(viewer)
        }
        let deadline = ContinuousClock.now + allowance
        while ContinuousClock.now < deadline, viewers.contains(where: { !$0.isConnected }) {
            try await Task.sleep(for: .milliseconds(100))
        }
        let connected = viewers.filter(\.isConnected)
        let before = connected.map(\.counts)
        let start = ContinuousClock.now
        let cost = await measuring(start, start + window)
        let elapsed = ContinuousClock.now - start
        let after = connected.map(\.counts)
        var report = Report(viewers: count, connected: connected.count, refused: refused,
                            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, frames: 0, packets: 0, lost: 0)
        for (old, new) in zip(before, after) {
            report.frames += new.frames - old.frames
            report.packets += new.packets - old.packets
            report.lost += new.lost - old.lost
        }
        for viewer in viewers {
            await viewer.close()
            if let location = viewer.location {
                _ = try? await request(host: host, port: port, method: "DELETE", path: location, body: nil, source: viewer.source)
            }
        }
        return (report, cost)
    }

    /// A receive-only offer for H.264, as a browser's would be, with us as the DTLS client (`a=setup:active`).
    static func offerSDP(ufrag: String, password: String, fingerprint: String) -> String {
        [
            "v=0", "o=- \(UInt32.random(in: 1...UInt32.max)) 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
            "m=video 9 UDP/TLS/RTP/SAVPF 102", "c=IN IP4 0.0.0.0", "a=mid:0", "a=recvonly", "a=rtcp-mux",
            "a=ice-ufrag:\(ufrag)", "a=ice-pwd:\(password)", "a=fingerprint:sha-256 \(fingerprint)", "a=setup:active",
            "a=rtpmap:102 H264/90000", "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        ].joined(separator: "\r\n") + "\r\n"
    }

    /// What a viewer needs of the answer: the server's ICE credentials and its UDP port.
    struct Answer {
        var ufrag: String
        var password: String
        var fingerprint: String
        var port: Int

        init?(_ text: String) {
            let lines = text.split(whereSeparator: \.isNewline)
            func value(_ prefix: String) -> String? { lines.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) } }
            guard let ufrag = value("a=ice-ufrag:"), let password = value("a=ice-pwd:"), let candidate = value("a=candidate:"),
                  let fingerprint = value("a=fingerprint:sha-256 ") else { return nil }
            self.fingerprint = fingerprint
            // foundation component transport priority address port typ host
            let fields = candidate.split(separator: " ")
            guard fields.count >= 6, let port = Int(fields[5]) else { return nil }
            self.ufrag = ufrag
            self.password = password
            self.port = port
        }
    }

    static func randomICE(_ count: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<count).map { _ in alphabet.randomElement() ?? "a" })
    }

    static func post(host: String, port: Int, path: String, body: String, source: String) async throws -> (Int, String, String?) {
        try await request(host: host, port: port, method: "POST", path: path, body: body, source: source)
    }

    /// One HTTP/1.1 request with `Connection: close` from local address `source`, on a thread of its own (plain
    /// blocking sockets: the load client's setup, not its measured part).
    static func request(host: String, port: Int, method: String, path: String, body: String?, source: String) async throws -> (Int, String, String?) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    continuation.resume(returning: try blockingRequest(host: host, port: port, method: method, path: path, body: body, source: source))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    struct RequestFailure: Error {}

    private static func blockingRequest(host: String, port: Int, method: String, path: String, body: String?, source: String) throws -> (Int, String, String?) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw RequestFailure() }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let local = try SocketAddress(ipAddress: source, port: 0), remote = try SocketAddress(ipAddress: host, port: port)
        guard local.withSockAddr({ bind(descriptor, $0, socklen_t($1)) }) == 0,
              remote.withSockAddr({ connect(descriptor, $0, socklen_t($1)) }) == 0
        else { throw RequestFailure() }
        let payload = Array((body ?? "").utf8)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\nContent-Length: \(payload.count)\r\n"
        if body != nil { head += "Content-Type: application/sdp\r\n" }
        let bytes = Array((head + "\r\n").utf8) + payload
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { throw RequestFailure() }
            sent += count
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            response += buffer[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw RequestFailure() }
        let headLines = text[..<split.lowerBound].split(separator: "\r\n")
        guard let statusLine = headLines.first, statusLine.split(separator: " ").count >= 2,
              let status = Int(statusLine.split(separator: " ")[1]) else { throw RequestFailure() }
        let location = headLines.first { $0.lowercased().hasPrefix("location:") }.map { $0.dropFirst("location:".count).trimmingCharacters(in: .whitespaces) }
        return (status, String(text[split.upperBound...]), location)
    }
}

/// One load viewer's UDP socket and handshake. State is touched on its channel's event loop only; the counters are
/// atomics, read from the bench.
final class LoadViewer: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let location: String?
    let source: String
    private let local: String
    private let remote: WHEPLoadClient.Answer
    private let dtls: DTLSEndpoint
    private var server: SocketAddress?
    private var channel: (any Channel)?
    private var timer: RepeatedTask?
    private var bound = false
    private var lastSequence: UInt16?
    private var ticks = 0
    private let connected = Atomic<Bool>(false)
    private let packets = Atomic<Int>(0)
    private let frames = Atomic<Int>(0)
    private let lost = Atomic<Int>(0)

    init(context: DTLSContext, local: String, remote: WHEPLoadClient.Answer, location: String?, source: String) throws {
        self.local = local
        self.remote = remote
        self.location = location
        self.source = source
        // The server's certificate must match its answer's fingerprint, as a browser checks it.
        dtls = try DTLSEndpoint(context: context, peerFingerprint: remote.fingerprint)
    }

    var isConnected: Bool { connected.load(ordering: .relaxed) }
    var counts: (packets: Int, frames: Int, lost: Int) {
        (packets.load(ordering: .relaxed), frames.load(ordering: .relaxed), lost.load(ordering: .relaxed))
    }

    func open(host: String) async throws {
        let server = try SocketAddress(ipAddress: host, port: remote.port)
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            // 16 datagrams of up to 2 KiB each per read.
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 16 * 2048))
            .channelOption(.socketOption(.so_rcvbuf), value: 1 << 20)
            // recvmmsg: a batch of packets per system call, so the client costs less than the server it loads.
            .channelOption(.datagramVectorReadMessageCount, value: 16)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(self) } }
            .bind(host: source, port: 0).get()
        try await channel.eventLoop.submit { [self] in
            self.server = server
            self.channel = channel
            binding()
            // Binding requests until the server answers, then as consent every 5 s; DTLS retransmissions meanwhile.
            timer = channel.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(200), delay: .milliseconds(200)) { [self] _ in
                ticks += 1
                if !bound || ticks % 25 == 0 { binding() }
                if bound, !isConnected { for datagram in dtls.handleTimeout() { write(datagram) } }
            }
        }.get()
    }

    func close() async {
        guard let channel else { return }
        try? await channel.eventLoop.submit { [self] in timer?.cancel() }.get()
        try? await channel.close()
    }

    private func binding() {
        let request = STUNMessage(type: STUNMessage.bindingRequest, transactionID: (0..<12).map { _ in UInt8.random(in: 0...255) }, attributes: [
            .init(type: STUNMessage.AttributeType.username, value: Array("\(remote.ufrag):\(local)".utf8)),
            .init(type: STUNMessage.AttributeType.useCandidate, value: []),
        ])
        write(request.encoded(integrityKey: Array(remote.password.utf8), fingerprint: true))
    }

    private func write(_ bytes: [UInt8]) {
        guard let channel, let server else { return }
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: channel.allocator.buffer(bytes: bytes)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let view = envelope.data.readableBytesView
        guard let first = view.first else { return }
        switch first {
        case 0...3:
            guard !bound, let message = try? STUNMessage(parsing: Array(view)), message.type == STUNMessage.bindingSuccess else { return }
            bound = true
            for datagram in dtls.start() { write(datagram) }
        case 20...63:
            let output = dtls.receive(Array(view))
            for datagram in output.datagrams { write(datagram) }
            if case .connected = output.event { connected.store(true, ordering: .relaxed) }
        case 128...191:
            guard view.count >= 12 else { return }
            let second = view[view.index(view.startIndex, offsetBy: 1)]
            guard !(192...223).contains(second) else { return }  // SRTCP (sender reports)
            packets.add(1, ordering: .relaxed)
            if second & 0x80 != 0 { frames.add(1, ordering: .relaxed) }
            let high = view[view.index(view.startIndex, offsetBy: 2)], low = view[view.index(view.startIndex, offsetBy: 3)]
            let sequence = UInt16(high) << 8 | UInt16(low)
            if let last = lastSequence {
                let gap = sequence &- last
                guard gap < 0x8000 else { return }  // late or repeated
                if gap > 1 { lost.add(Int(gap) - 1, ordering: .relaxed) }
            }
            lastSequence = sequence
        default:
            return
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
