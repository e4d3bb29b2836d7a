import Foundation
import HTTPTypes
import LiveMedia
import Logging
import NIOCore
import NIOPosix
import Synchronization
internal import WebRTC

/// WebRTC on this node, WHEP playback and WHIP publishing: the DTLS identity, the UDP socket every session shares (bound by
/// ``WebRTCService``), and the hub of sessions on that socket's event loop. HTTP handlers create and end sessions
/// here; the broadcast registry prepares a feed for each broadcast, so a viewer starts at its last keyframe.
///
/// Without OpenSSL 3 on the system, or before the socket is bound, every WHEP request is answered 503
/// `webrtc_unavailable`; everything else runs.
public final class WebRTCNode: Sendable {
    public let configuration: WebRTCConfiguration
    let dtls: DTLSContext?
    let hub: WebRTCHub
    private let logger: Logger
    private let listening: String
    private let state = Mutex<(channel: (any Channel)?, port: Int?, addresses: [String])>((nil, nil, []))
    private let viewers = Atomic<Int>(0)
    /// Sessions per client address, so one client cannot take every slot with offers it never completes.
    private let perAddress = Mutex<[String: Int]>([:])
    /// The most sessions one client address holds at once (completed or not).
    static let maxSessionsPerAddress = 8

    /// Why WebRTC is off, when it is.
    public let unavailableReason: String?

    init(configuration: WebRTCConfiguration, host: String, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        listening = host
        hub = WebRTCHub(loop: MultiThreadedEventLoopGroup.singleton.next(), logger: logger)
        do {
            dtls = try DTLSContext()
            unavailableReason = nil
        } catch {
            dtls = nil
            unavailableReason = "\(error)"
        }
    }

    /// Whether this system has what WebRTC needs (OpenSSL 3).
    public static var isAvailable: Bool { LibSSL.shared != nil }

    /// The UDP port bound, once bound.
    public var boundPort: Int? { state.withLock { $0.port } }
    /// Sessions open now, connected or not.
    public var viewerCount: Int { viewers.load(ordering: .relaxed) }

    // MARK: Socket

    func start() async throws {
        let hub = hub
        let channel = try await DatagramBootstrap(group: hub.loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2048))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WebRTCDatagramHandler(hub: hub))
                }
            }
            .bind(host: listening, port: configuration.port)
            .get()
        let port = channel.localAddress?.port ?? configuration.port
        let addresses = configuration.advertiseAddresses.isEmpty
            ? WebRTCConfiguration.defaultAddresses(listening: listening) : configuration.advertiseAddresses
        try await hub.loop.submit { hub.started(on: channel) }.get()
        state.withLock { $0 = (channel, port, addresses) }
        logger.info("WebRTC (WHEP, WHIP) listening", metadata: ["udp_port": "\(port)", "candidates": "\(addresses.joined(separator: ","))"])
    }

    func stop() async {
        let channel = state.withLock { state -> (any Channel)? in
            defer { state.channel = nil }
            return state.channel
        }
        let hub = hub
        try? await hub.loop.submit { hub.stop() }.get()
        try? await channel?.close()
    }

    // MARK: Sessions

    public struct Created: Sendable {
        public var id: String
        public var answer: String
        /// RTP timestamp − offset (mod 2^32) = presentation time on the broadcast's media timeline (90 kHz).
        public var timestampOffset: UInt32
        /// Whether the channel's video has shown B-frames so far (its kept keyframe group or any frame since).
        public var hasBFrames: Bool
    }

    /// Answers a WHEP offer for a live broadcast: a new session whose ICE and DTLS must complete within
    /// ``WHEPSession/setupTimeout``. `release` runs once when the session ends, however it ends.
    func createSession(channel: String, broadcast: Broadcast, offer text: String, client: String?,
                       release: @escaping @Sendable () -> Void) async throws(APIError) -> Created {
        guard let dtls, let (port, addresses) = state.withLock({ state in state.port.map { ($0, state.addresses) } }) else {
            release()
            throw APIError(.serviceUnavailable, code: "webrtc_unavailable",
                           message: "WebRTC playback is not available on this server: \(unavailableReason ?? "starting")")
        }
        let profile = broadcast.rendition.flatMap { Self.profile(codecs: $0.codecs) }
        let offer: WHEPOffer
        do {
            offer = try WHEPOffer(parsing: text, profile: profile)
        } catch {
            release()
            throw APIError(.badRequest, code: "bad_sdp", message: error.description)
        }
        let address = client ?? "unknown"
        guard reserve(address) else {
            release()
            throw APIError(.tooManyRequests, code: "rate_limited",
                           message: "this address holds \(Self.maxSessionsPerAddress) WebRTC sessions already; end one first")
        }
        guard reserveViewer() else {
            unreserve(address)
            release()
            throw APIError(.serviceUnavailable, code: "server_full",
                           message: "this node holds its most WebRTC viewers (\(configuration.maxViewers)); try another node or LL-HLS")
        }
        let id = Self.randomToken(32, alphabet: Self.hex)
        let ufrag = Self.randomToken(8, alphabet: Self.iceCharacters)
        let password = Self.randomToken(24, alphabet: Self.iceCharacters)
        let ssrc = UInt32.random(in: 1...UInt32.max)
        let timestampOffset = UInt32.random(in: 0...UInt32.max)
        // Audio when the viewer takes Opus, the broadcast has AAC, and ffmpeg is here to transcode it.
        let hasAudio = broadcast.rendition?.codecs.contains("mp4a") == true
        let audioSSRC: UInt32? = offer.audio != nil && hasAudio && OpusTranscoder.findFFmpeg() != nil
            ? UInt32.random(in: 1...UInt32.max) : nil
        let cname = Self.randomToken(16, alphabet: Self.iceCharacters)
        let releaseAll: @Sendable () -> Void = { [self] in
            viewers.subtract(1, ordering: .relaxed)
            unreserve(address)
            release()
        }
        let hub = hub
        // An offer that comes with the broadcast's first frames (a page opened as the publisher starts) waits for a
        // few of them, a second at most: until then nobody knows whether the stream has B-frames, which the answer
        // says (the watch page's automatic choice of path reads it), and a session has nothing to show anyway.
        for _ in 0..<20 {
            guard let seen = try? await hub.loop.submit({ hub.videoFramesSeen(broadcast) }).get(), seen < WebRTCFeed.framesBeforeAnswer else { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        // nil: the DTLS endpoint could not be made; else whether the video has shown B-frames.
        let created = try? await hub.loop.submit { () throws -> Bool in
            let endpoint = try DTLSEndpoint(context: dtls, peerFingerprint: offer.fingerprint)
            let session = WHEPSession(id: id, channel: channel, offer: offer, localUfrag: ufrag, localPassword: password,
                                      dtls: endpoint, ssrc: ssrc, cname: cname, timestampOffset: timestampOffset,
                                      audioSSRC: audioSSRC, now: .now())
            hub.add(session, broadcast: broadcast, release: releaseAll)
            return hub.hasBFrames(channel: channel)
        }.get()
        guard let hasBFrames = created else {
            releaseAll()
            throw APIError(.internalServerError, code: "dtls_failed", message: "the DTLS session could not be set up")
        }
        let answer = WHEPAnswer(offer: offer, iceUfrag: ufrag, icePassword: password, fingerprint: dtls.fingerprint,
                                candidates: addresses.map { ($0, port) }, ssrc: ssrc, cname: cname,
                                sessionID: UInt64.random(in: 1...UInt64(Int64.max)), audioSSRC: audioSSRC)
        return Created(id: id, answer: answer.text, timestampOffset: timestampOffset, hasBFrames: hasBFrames)
    }

    // MARK: Publishers (WHIP)

    /// Reads a WHIP offer, after checking that this node can take a publisher at all; nothing is held yet.
    func publisherOffer(_ text: String) throws(APIError) -> WHIPOffer {
        guard dtls != nil, boundPort != nil else {
            throw APIError(.serviceUnavailable, code: "webrtc_unavailable",
                           message: "WebRTC publishing is not available on this server: \(unavailableReason ?? "starting")")
        }
        guard OpusTranscoder.findFFmpeg() != nil else {
            throw APIError(.serviceUnavailable, code: "transcoder_unavailable",
                           message: "WHIP needs ffmpeg on the server (apt-get install ffmpeg) to make H.264 and AAC of the browser's media")
        }
        do {
            return try WHIPOffer(parsing: text)
        } catch {
            throw APIError(.badRequest, code: "bad_sdp", message: error.description)
        }
    }

    /// Holds one of the client address's ``maxSessionsPerAddress`` places; `release` gives it back.
    func reservePublisherPlace(client: String?) throws(APIError) -> @Sendable () -> Void {
        let address = client ?? "unknown"
        guard reserve(address) else {
            throw APIError(.tooManyRequests, code: "rate_limited",
                           message: "this address holds \(Self.maxSessionsPerAddress) WebRTC sessions already; end one first")
        }
        return { [self] in unreserve(address) }
    }

    /// Answers a WHIP offer for a broadcast the publish gate just gave this publisher: a session whose ICE and DTLS
    /// must complete within ``PeerTransport/setupTimeout``, and the ffmpeg that turns its media into the broadcast's.
    /// `release` runs once when the session ends, however it ends (here too when it cannot start).
    func createPublisher(channel: String, broadcast: Broadcast, offer: WHIPOffer,
                         release: @escaping @Sendable () -> Void) async throws(APIError) -> (id: String, answer: String) {
        guard let dtls, let (port, addresses) = state.withLock({ state in state.port.map { ($0, state.addresses) } }),
              let publisher = WHIPPublisher(channel: channel, broadcast: broadcast, offer: offer, loop: hub.loop, logger: logger) else {
            release()
            throw APIError(.serviceUnavailable, code: "webrtc_unavailable", message: "WebRTC publishing is not available on this server")
        }
        let id = Self.randomToken(32, alphabet: Self.hex)
        let ufrag = Self.randomToken(8, alphabet: Self.iceCharacters)
        let password = Self.randomToken(24, alphabet: Self.iceCharacters)
        let hub = hub
        let created = (try? await hub.loop.submit { () throws -> Bool in
            let endpoint = try DTLSEndpoint(context: dtls, peerFingerprint: offer.fingerprint)
            let session = WHIPSession(id: id, channel: channel, offer: offer, localUfrag: ufrag, localPassword: password,
                                      dtls: endpoint, now: .now())
            hub.add(session, publisher: publisher, release: release)
            return true
        }.get()) ?? false
        guard created else {
            release()
            throw APIError(.internalServerError, code: "dtls_failed", message: "the DTLS session could not be set up")
        }
        let answer = WHIPAnswer(offer: offer, iceUfrag: ufrag, icePassword: password, fingerprint: dtls.fingerprint,
                                candidates: addresses.map { ($0, port) }, sessionID: UInt64.random(in: 1...UInt64(Int64.max)))
        return (id, answer.text)
    }

    /// The channel of WHIP session `id`, if there is one.
    func publisherChannel(id: String) async -> String? {
        let hub = hub
        return try? await hub.loop.submit { hub.publisherChannel(id: id) }.get()
    }

    /// Ends a session (WHEP or WHIP DELETE); false when `channel` has no session `id`.
    func endSession(channel: String, id: String) async -> Bool {
        let hub = hub
        return (try? await hub.loop.submit { hub.remove(id: id, channel: channel) }.get()) ?? false
    }

    /// Attaches the feed of a broadcast that just started, so that its GOP is cached before the first viewer.
    func prepare(_ broadcast: Broadcast) {
        guard dtls != nil else { return }
        let hub = hub
        hub.loop.execute { hub.ensureFeed(broadcast) }
    }

    private func reserve(_ address: String) -> Bool {
        perAddress.withLock { counts in
            guard counts[address, default: 0] < Self.maxSessionsPerAddress else { return false }
            counts[address, default: 0] += 1
            return true
        }
    }

    private func unreserve(_ address: String) {
        perAddress.withLock { counts in
            let left = counts[address, default: 1] - 1
            counts[address] = left > 0 ? left : nil
        }
    }

    private func reserveViewer() -> Bool {
        var current = viewers.load(ordering: .relaxed)
        while current < configuration.maxViewers {
            let (exchanged, original) = viewers.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    // MARK: Helpers

    static let hex = Array("0123456789abcdef")
    static let iceCharacters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

    static func randomToken(_ count: Int, alphabet: [Character]) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// `profile_idc` from an RFC 6381 codecs string (`avc1.64001f,mp4a.40.2` → 0x64).
    static func profile(codecs: String) -> UInt8? {
        guard let range = codecs.range(of: "avc1.") else { return nil }
        return UInt8(codecs[range.upperBound...].prefix(2), radix: 16)
    }
}

/// The UDP socket's only handler: every datagram to the hub, on the socket's event loop.
final class WebRTCDatagramHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let hub: WebRTCHub

    init(hub: WebRTCHub) { self.hub = hub }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        hub.receive(Array(envelope.data.readableBytesView), from: envelope.remoteAddress)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port-unreachable from a viewer that left surfaces here: the socket stays open for everyone else.
    }
}
