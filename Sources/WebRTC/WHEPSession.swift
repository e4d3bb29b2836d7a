import Foundation
import NIOCore

/// One WHEP viewer on the shared UDP port: ICE-lite and DTLS as the server (``PeerTransport``), then SRTP video
/// out and SRTCP feedback in. Events in (a datagram from an address, a tick, an access unit to send), actions out;
/// the shell that owns the socket performs them. It lives on that socket's event loop and is not thread-safe; time
/// is an argument.
///
/// Media starts at a keyframe; NACKed packets are resent from the last ``historySize`` packets.
public final class WHEPSession: PeerSession {
    public typealias Action = PeerAction
    public typealias State = PeerTransport.State

    public static let setupTimeout = PeerTransport.setupTimeout
    public static let consentTimeout = PeerTransport.consentTimeout
    public static let reportInterval: TimeAmount = .seconds(1)
    /// About two seconds of a 2.5 Mbit/s stream: enough for a NACK round trip, at ~600 KB a viewer.
    public static let historySize = 512
    /// RTP payload bytes per packet: a packet with its header and SRTP tag stays under 1200 bytes.
    public static let maximumPayload = 1150

    public let id: String
    public let channel: String
    public let transport: PeerTransport
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
    public private(set) var packetsSent: UInt32 = 0
    public private(set) var octetsSent: UInt32 = 0
    public private(set) var retransmitted = 0
    public private(set) var keyframeRequests = 0

    private var lastReport: NIODeadline
    private var nextIndex: UInt64
    /// Added to a frame's presentation time (90 kHz) to make its RTP timestamp: random (RFC 3550 §5.1), and told
    /// to the player so it can place frames on the broadcast's timeline.
    public let timestampOffset: UInt32
    private var history: [(sequence: UInt16, bytes: [UInt8])?]
    private var startedAtKeyframe = false

    public init(id: String, channel: String, offer: WHEPOffer, localUfrag: String, localPassword: String,
                dtls: DTLSEndpoint, ssrc: UInt32, cname: String, timestampOffset: UInt32 = .random(in: 0...UInt32.max),
                audioSSRC: UInt32? = nil, now: NIODeadline) {
        self.audioSSRC = offer.audio == nil ? nil : audioSSRC
        audioPayloadType = self.audioSSRC == nil ? nil : offer.audio?.payloadType
        self.id = id
        self.channel = channel
        transport = PeerTransport(localUfrag: localUfrag, localPassword: localPassword, remoteUfrag: offer.iceUfrag, dtls: dtls, now: now)
        payloadType = offer.payloadType
        self.ssrc = ssrc
        self.cname = cname
        lastReport = now
        // Random starting sequence number and timestamp (RFC 3550 §5.1).
        nextIndex = UInt64(UInt16.random(in: 0...0x7FFF))
        self.timestampOffset = timestampOffset
        history = Array(repeating: nil, count: Self.historySize)
    }

    // MARK: DTLS and SRTCP

    /// A datagram from the bound address that is not STUN: DTLS (first byte 20–63) or SRTCP (128–191, RFC 7983).
    public func receive(datagram: [UInt8], from address: SocketAddress, now: NIODeadline) -> [Action] {
        guard !isClosed, address == peer, let first = datagram.first else { return [] }
        switch first {
        case 20...63:
            return closing(transport.receive(dtls: datagram, from: address, now: now))
        case 128...191:
            guard RTCP.isRTCP(datagram) else { return [] }
            let (plain, log) = transport.unprotectRTCP(datagram, now: now)
            guard let plain else { return log }
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
            return transport.once("garbage", "a datagram that is neither STUN, DTLS nor SRTCP was ignored")
        }
    }

    /// DTLS completed with these keys.
    func connected(keys: SRTPKeyingMaterial, now: NIODeadline) -> [Action] {
        transport.connected(keys: keys, now: now)
    }

    // MARK: Media

    /// Protects and addresses one access unit's payloads; nothing before DTLS completes, nothing until the first
    /// keyframe. `mediaTime` is the frame's presentation time (90 kHz) on the broadcast's timeline.
    public func send(_ payloads: [H264Packetizer.Payload], mediaTime: Int64, isKeyframe: Bool) -> [[UInt8]] {
        guard state == .connected, let outbound = transport.outbound else { return [] }
        if !startedAtKeyframe {
            guard isKeyframe else { return [] }
            startedAtKeyframe = true
        }
        let timestamp = UInt32(truncatingIfNeeded: mediaTime) &+ timestampOffset
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
        guard state == .connected, let outbound = transport.outbound, let audioSSRC, let audioPayloadType else { return nil }
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
        let due = transport.tick(now: now)
        guard due.isEmpty, state == .connected else { return closing(due) }
        guard now - lastReport >= Self.reportInterval, let peer, let clock, packetsSent > 0 else { return [] }
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
        return reports.compactMap { transport.protectRTCP($0).map { .send($0, to: peer) } }
    }

    /// Ends the session (DELETE, the broadcast ended, the server stops, a deadline): a connected viewer is told with
    /// an RTCP BYE (RFC 3550 §6.6) for each of our streams, so it stops at once instead of waiting out a timeout.
    public func close(_ reason: String) -> [Action] {
        guard !isClosed else { return [] }
        var actions: [Action] = []
        if state == .connected, let peer {
            let bye = RTCP.bye(sources: [ssrc] + (audioSSRC.map { [$0] } ?? []))
            if let protected = transport.protectRTCP(bye) { actions.append(.send(protected, to: peer)) }
        }
        transport.markClosed(reason)
        return actions + [.close(reason)]
    }
}
