import Foundation
import NIOCore

/// One WHEP viewer on the shared UDP port: ICE-lite (answering the peer's Binding requests), then DTLS as the server,
/// then SRTP video out and SRTCP feedback in. Events in (a datagram from an address, a tick, an access unit to send),
/// actions out; the shell that owns the socket performs them. It lives on that socket's event loop and is not
/// thread-safe; time is an argument.
///
/// Rules:
/// - a STUN request counts only if its USERNAME is `ours:theirs`, its MESSAGE-INTEGRITY checks with our password and
///   its FINGERPRINT is right; the first such request binds the peer's address, a later one with USE-CANDIDATE moves
///   it (RFC 8445 §7.3.1.5); only datagrams from the bound address reach DTLS and SRTCP (the shell demultiplexes);
/// - ICE and DTLS must complete within ``setupTimeout``; a connected peer that sends no valid STUN nor SRTCP for
///   ``consentTimeout`` is dropped (RFC 7675 consent freshness);
/// - garbage (bad STUN, DTLS alerts or failures, SRTCP that does not authenticate) affects this session only, and
///   each kind is logged once;
/// - media starts at a keyframe; NACKed packets are resent from the last ``historySize`` packets.
public final class WHEPSession {
    public enum State: Sendable, Equatable {
        case waitingForICE
        case handshaking
        case connected
        case closed(String)
    }

    public enum Action: Sendable, Equatable {
        case send([UInt8], to: SocketAddress)
        /// The peer's address is (now) this one: route its datagrams here.
        case bind(SocketAddress)
        /// DTLS completed: media may flow (start it at a keyframe).
        case connected
        case keyframeRequested
        case log(String)
        case close(String)
    }

    public static let setupTimeout: TimeAmount = .seconds(10)
    public static let consentTimeout: TimeAmount = .seconds(30)
    public static let reportInterval: TimeAmount = .seconds(1)
    /// About two seconds of a 2.5 Mbit/s stream: enough for a NACK round trip, at ~600 KB a viewer.
    public static let historySize = 512
    /// RTP payload bytes per packet: a packet with its header and SRTP tag stays under 1200 bytes.
    public static let maximumPayload = 1150

    public let id: String
    public let channel: String
    public let localUfrag: String
    public let localPassword: String
    public let remoteUfrag: String
    public let ssrc: UInt32
    public let payloadType: UInt8
    public let cname: String
    /// The Opus stream's SSRC and payload type, when the offer took audio and the server sends it.
    public let audioSSRC: UInt32?
    public let audioPayloadType: UInt8?
    /// As ``timestampOffset``, for the audio clock (48 kHz).
    public let audioTimestampOffset: UInt32 = .random(in: 0...UInt32.max)
    private var audioIndex = UInt64(UInt16.random(in: 0...0x7FFF))
    public private(set) var audioPacketsSent: UInt32 = 0
    private var audioOctetsSent: UInt32 = 0
    public private(set) var state: State = .waitingForICE
    public private(set) var peer: SocketAddress?
    public private(set) var packetsSent: UInt32 = 0
    public private(set) var octetsSent: UInt32 = 0
    public private(set) var retransmitted = 0
    public private(set) var keyframeRequests = 0

    private let dtls: DTLSEndpoint
    private var outbound: SRTPContext?
    private var inbound: SRTPContext?
    private let createdAt: NIODeadline
    private var lastHeard: NIODeadline
    private var lastReport: NIODeadline
    private var nextIndex: UInt64
    private var rtcpIndex: UInt32 = 0
    /// Added to a frame's presentation time (90 kHz) to make its RTP timestamp: random (RFC 3550 §5.1), and told
    /// to the player so it can place frames on the broadcast's timeline.
    public let timestampOffset: UInt32
    private var history: [(sequence: UInt16, bytes: [UInt8])?]
    private var startedAtKeyframe = false
    private var lastTimestamp: UInt32?
    private var logged: Set<String> = []

    public init(id: String, channel: String, offer: WHEPOffer, localUfrag: String, localPassword: String,
                dtls: DTLSEndpoint, ssrc: UInt32, cname: String, timestampOffset: UInt32 = .random(in: 0...UInt32.max),
                audioSSRC: UInt32? = nil, now: NIODeadline) {
        self.audioSSRC = offer.audio == nil ? nil : audioSSRC
        audioPayloadType = self.audioSSRC == nil ? nil : offer.audio?.payloadType
        self.id = id
        self.channel = channel
        self.localUfrag = localUfrag
        self.localPassword = localPassword
        remoteUfrag = offer.iceUfrag
        payloadType = offer.payloadType
        self.dtls = dtls
        self.ssrc = ssrc
        self.cname = cname
        createdAt = now
        lastHeard = now
        lastReport = now
        // Random starting sequence number and timestamp (RFC 3550 §5.1).
        nextIndex = UInt64(UInt16.random(in: 0...0x7FFF))
        self.timestampOffset = timestampOffset
        history = Array(repeating: nil, count: Self.historySize)
    }

    public var isConnected: Bool { state == .connected }
    public var isClosed: Bool { if case .closed = state { true } else { false } }

    // MARK: ICE

    /// A STUN message whose USERNAME starts with our ufrag (the shell routes by it), from any address.
    public func receive(stun message: STUNMessage, from address: SocketAddress, now: NIODeadline) -> [Action] {
        guard !isClosed else { return [] }
        guard message.type == STUNMessage.bindingRequest else {
            // Indications (keepalives) and responses need no answer.
            return []
        }
        guard message.username == "\(localUfrag):\(remoteUfrag)",
              message.hasValidIntegrity(key: Array(localPassword.utf8)), message.hasValidFingerprint else {
            return once("stun", "a STUN request with a wrong username, integrity or fingerprint was ignored")
        }
        guard let (addressBytes, port) = Self.bytes(of: address) else { return [] }
        lastHeard = now
        var actions: [Action] = []
        let nominated = message.attribute(STUNMessage.AttributeType.useCandidate) != nil
        if peer == nil || (nominated && peer != address) {
            peer = address
            actions.append(.bind(address))
            if state == .waitingForICE { state = .handshaking }
        }
        let response = STUNMessage(type: STUNMessage.bindingSuccess, transactionID: message.transactionID, attributes: [
            .init(type: STUNMessage.AttributeType.xorMappedAddress,
                  value: STUNMessage.xorMappedAddress(address: addressBytes, port: port, transactionID: message.transactionID)),
        ])
        actions.append(.send(response.encoded(integrityKey: Array(localPassword.utf8), fingerprint: true), to: address))
        return actions
    }

    // MARK: DTLS and SRTCP

    /// A datagram from the bound address that is not STUN: DTLS (first byte 20–63) or SRTCP (128–191, RFC 7983).
    public func receive(datagram: [UInt8], from address: SocketAddress, now: NIODeadline) -> [Action] {
        guard !isClosed, address == peer, let first = datagram.first else { return [] }
        switch first {
        case 20...63:
            let output = dtls.receive(datagram)
            var actions = output.datagrams.map { Action.send($0, to: address) }
            switch output.event {
            case let .connected(keys):
                actions += connected(keys: keys, now: now)
            case let .failed(reason):
                actions += close("DTLS failed: \(reason)")
            case .closed:
                actions += close("the peer closed DTLS")
            case nil:
                break
            }
            return actions
        case 128...191:
            guard RTCP.isRTCP(datagram), var context = inbound else { return [] }
            let plain: [UInt8]
            do {
                plain = try context.unprotectRTCP(datagram)
                inbound = context
            } catch {
                return once("srtcp", "an SRTCP packet that did not authenticate (\(error)) was ignored")
            }
            lastHeard = now
            var actions: [Action] = []
            for feedback in RTCP.parse(plain, mediaSSRC: ssrc) {
                switch feedback {
                case let .nack(sequences):
                    for sequence in sequences.prefix(64) {
                        guard let entry = history[Int(sequence) % Self.historySize], entry.sequence == sequence else { continue }
                        retransmitted += 1
                        actions.append(.send(entry.bytes, to: address))
                    }
                case .pictureLoss, .fullIntraRequest:
                    keyframeRequests += 1
                    actions.append(.keyframeRequested)
                case .receiverReport:
                    break
                case .bye:
                    actions += close("the peer sent RTCP BYE")
                }
            }
            return actions
        default:
            return once("garbage", "a datagram that is neither STUN, DTLS nor SRTCP was ignored")
        }
    }

    /// DTLS completed with these keys: we protect with the server's, check the peer's with the client's.
    func connected(keys: SRTPKeyingMaterial, now: NIODeadline) -> [Action] {
        outbound = SRTPContext(masterKey: keys.serverKey, masterSalt: keys.serverSalt)
        inbound = SRTPContext(masterKey: keys.clientKey, masterSalt: keys.clientSalt)
        state = .connected
        lastHeard = now
        return [.connected]
    }

    // MARK: Media

    /// Protects and addresses one access unit's payloads; nothing before DTLS completes, nothing until the first
    /// keyframe. `mediaTime` is the frame's presentation time (90 kHz) on the broadcast's timeline.
    public func send(_ payloads: [H264Packetizer.Payload], mediaTime: Int64, isKeyframe: Bool) -> [[UInt8]] {
        guard state == .connected, let outbound else { return [] }
        if !startedAtKeyframe {
            guard isKeyframe else { return [] }
            startedAtKeyframe = true
        }
        let timestamp = UInt32(truncatingIfNeeded: mediaTime) &+ timestampOffset
        lastTimestamp = timestamp
        var packets: [[UInt8]] = []
        packets.reserveCapacity(payloads.count)
        for payload in payloads {
            let sequence = UInt16(truncatingIfNeeded: nextIndex)
            let header = RTPHeader(payloadType: payloadType, sequenceNumber: sequence, timestamp: timestamp, ssrc: ssrc,
                                   marker: payload.marker)
            let packet = outbound.protectRTP(header.packet(payload: payload.bytes), headerLength: RTPHeader.length, index: nextIndex)
            history[Int(sequence) % Self.historySize] = (sequence, packet)
            nextIndex += 1
            packetsSent &+= 1
            octetsSent &+= UInt32(payload.bytes.count)
            packets.append(packet)
        }
        return packets
    }

    /// Protects one Opus packet (20 ms) whose first sample is at `mediaTime` (90 kHz) on the broadcast's timeline.
    public func sendAudio(_ payload: [UInt8], mediaTime: Int64) -> [UInt8]? {
        guard state == .connected, let outbound, let audioSSRC, let audioPayloadType else { return nil }
        let timestamp = UInt32(truncatingIfNeeded: mediaTime * 48_000 / 90_000) &+ audioTimestampOffset
        let header = RTPHeader(payloadType: audioPayloadType, sequenceNumber: UInt16(truncatingIfNeeded: audioIndex),
                               timestamp: timestamp, ssrc: audioSSRC, marker: false)
        let packet = outbound.protectRTP(header.packet(payload: payload), headerLength: RTPHeader.length, index: audioIndex)
        audioIndex += 1
        audioPacketsSent &+= 1
        audioOctetsSent &+= UInt32(payload.count)
        return packet
    }

    // MARK: Time

    /// DTLS retransmissions, the setup and consent deadlines, and a sender report every ``reportInterval``. `clock`
    /// maps now to the broadcast's media time: the report says that RTP timestamp is that wall-clock instant.
    public func tick(now: NIODeadline, clock: (wallClock: Date, mediaTime: Int64)?) -> [Action] {
        guard !isClosed else { return [] }
        if state != .connected {
            if now - createdAt > Self.setupTimeout { return close("ICE and DTLS did not complete within \(Self.setupTimeout.seconds) s") }
            guard let peer else { return [] }
            return dtls.handleTimeout().map { .send($0, to: peer) }
        }
        if now - lastHeard > Self.consentTimeout {
            return close("no STUN consent nor RTCP for \(Self.consentTimeout.seconds) s")
        }
        guard now - lastReport >= Self.reportInterval, let peer, let outbound, let clock, packetsSent > 0 else { return [] }
        lastReport = now
        let report = RTCP.senderReport(
            ssrc: ssrc, ntp: RTCP.ntpTimestamp(clock.wallClock),
            rtpTimestamp: UInt32(truncatingIfNeeded: clock.mediaTime) &+ timestampOffset,
            packets: packetsSent, octets: octetsSent, cname: cname
        )
        var reports = [report]
        if let audioSSRC, audioPacketsSent > 0 {
            reports.append(RTCP.senderReport(
                ssrc: audioSSRC, ntp: RTCP.ntpTimestamp(clock.wallClock),
                rtpTimestamp: UInt32(truncatingIfNeeded: clock.mediaTime * 48_000 / 90_000) &+ audioTimestampOffset,
                packets: audioPacketsSent, octets: audioOctetsSent, cname: cname
            ))
        }
        return reports.map { report in
            let protected = outbound.protectRTCP(report, index: rtcpIndex)
            rtcpIndex = (rtcpIndex + 1) & 0x7FFF_FFFF
            return .send(protected, to: peer)
        }
    }

    /// Ends the session (DELETE, the broadcast ended, the server stops, a deadline): a connected viewer is told with
    /// an RTCP BYE (RFC 3550 §6.6) for each of our streams, so it stops at once instead of waiting out a timeout.
    public func close(_ reason: String) -> [Action] {
        guard !isClosed else { return [] }
        var actions: [Action] = []
        if state == .connected, let outbound, let peer {
            let sources = [ssrc] + (audioSSRC.map { [$0] } ?? [])
            var bye: [UInt8] = [0x80 | UInt8(sources.count), RTCP.goodbye, 0, UInt8(sources.count)]
            for source in sources { appendBigEndian(source, to: &bye) }
            actions.append(.send(outbound.protectRTCP(bye, index: rtcpIndex), to: peer))
            rtcpIndex = (rtcpIndex + 1) & 0x7FFF_FFFF
        }
        state = .closed(reason)
        return actions + [.close(reason)]
    }

    private func once(_ kind: String, _ line: String) -> [Action] {
        guard logged.insert(kind).inserted else { return [] }
        return [.log(line)]
    }

    /// The address bytes and port of an IPv4 or IPv6 socket address, read from its `sockaddr_in`/`sockaddr_in6`
    /// (family, port, then the address: at offset 4 for IPv4, 8 for IPv6).
    static func bytes(of address: SocketAddress) -> ([UInt8], UInt16)? {
        let (offset, length): (Int, Int)
        switch address {
        case .v4: (offset, length) = (4, 4)
        case .v6: (offset, length) = (8, 16)
        case .unixDomainSocket: return nil
        }
        guard let port = address.port, let port = UInt16(exactly: port) else { return nil }
        let bytes = address.withSockAddr { pointer, size -> [UInt8]? in
            guard size >= offset + length else { return nil }
            let raw = UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer), count: size)
            return Array(raw[offset..<offset + length])
        }
        return bytes.map { ($0, port) }
    }
}

extension TimeAmount {
    var seconds: Int64 { nanoseconds / 1_000_000_000 }
}
