import Foundation
import NIOCore

/// One WHIP publisher on the shared UDP port (RFC 9725): ICE-lite and DTLS as the server (``PeerTransport``), then
/// SRTP and SRTCP in, decrypted and handed on per track (``PeerAction/media(_:)``), and our RTCP out: picture loss
/// indications when a keyframe is wanted and an estimated bitrate (REMB) every ``reportInterval`` so a browser
/// ramps up to ``targetBitrate``. Not thread-safe: it lives on the socket's event loop; time is an argument.
///
/// A hole in the video's sequence numbers asks the shell for a keyframe (``PeerAction/keyframeRequested``).
///
/// Rules: a packet is the video track's when its payload type is the answer's video type, the audio track's when it
/// is the audio type; anything else is ignored (logged once). RTCP goes to the track whose SSRC sent it. Each
/// track's SSRC is the first one seen with its payload type; another SSRC on it later is ignored.
public final class WHIPSession: PeerSession {
    public static let reportInterval: TimeAmount = .seconds(1)
    /// A publisher whose media stops for this long has gone (a closed tab sends no BYE): its viewers should not stare at
    /// a frozen picture for the 30 s of consent freshness. Browsers send audio and video without pause, even muted.
    public static let mediaTimeout: TimeAmount = .seconds(10)
    /// What REMB allows the browser: enough for 1080p30 from a camera.
    public static let targetBitrate: UInt64 = 4_000_000

    public let id: String
    public let channel: String
    public let transport: PeerTransport
    public let videoPayloadType: UInt8
    public let audioPayloadType: UInt8?
    public let videoCodec: WHIPOffer.VideoCodec
    /// Our SSRC as the sender of RTCP feedback.
    public let ssrc: UInt32
    public private(set) var videoSSRC: UInt32?
    public private(set) var audioSSRC: UInt32?
    public private(set) var packetsReceived = 0
    public private(set) var bytesReceived = 0
    private var lastReport: NIODeadline
    private var lastMedia: NIODeadline?
    private var lastVideoSequence: UInt16?

    public init(id: String, channel: String, offer: WHIPOffer, localUfrag: String, localPassword: String,
                dtls: DTLSEndpoint, ssrc: UInt32 = .random(in: 1...UInt32.max), now: NIODeadline) {
        self.id = id
        self.channel = channel
        transport = PeerTransport(localUfrag: localUfrag, localPassword: localPassword, remoteUfrag: offer.iceUfrag, dtls: dtls, now: now)
        videoPayloadType = offer.video.payloadType
        audioPayloadType = offer.audio?.payloadType
        videoCodec = offer.videoCodec
        self.ssrc = ssrc
        lastReport = now
    }

    /// A datagram from the bound address that is not STUN: DTLS (20–63), SRTP or SRTCP (128–191, RFC 7983).
    public func receive(datagram: [UInt8], from address: SocketAddress, now: NIODeadline) -> [PeerAction] {
        guard !isClosed, address == peer, let first = datagram.first else { return [] }
        switch first {
        case 20...63:
            return closing(transport.receive(dtls: datagram, from: address, now: now))
        case 128...191 where RTCP.isRTCP(datagram):
            let (plain, log) = transport.unprotectRTCP(datagram, now: now)
            guard let plain else { return log }
            if RTCP.parse(plain, mediaSSRC: 0).contains(.bye) { return close("the publisher sent RTCP BYE") }
            guard let sender = RTCP.senderSSRC(plain) else { return [] }
            let track: ReceivedPacket.Track? = sender == videoSSRC ? .video : sender == audioSSRC ? .audio : nil
            return track.map { [.media(ReceivedPacket(track: $0, isRTCP: true, bytes: plain))] } ?? []
        case 128...191:
            let (plain, log) = transport.unprotectRTP(datagram, now: now)
            guard let plain, let header = RTPHeader(parsing: plain) else { return log }
            let track: ReceivedPacket.Track
            if header.payloadType == videoPayloadType {
                if videoSSRC == nil { videoSSRC = header.ssrc }
                guard header.ssrc == videoSSRC else { return transport.once("ssrc", "RTP from a second SSRC on a track was ignored") }
                track = .video
                // A hole in the video (packets lost on the way) spoils the picture until the next keyframe: ask for one.
                let gap = lastVideoSequence.map { header.sequenceNumber &- $0 } ?? 1
                if gap < 0x8000 { lastVideoSequence = header.sequenceNumber }
                if gap > 1, gap < 0x8000 {
                    packetsReceived += 1
                    bytesReceived += plain.count
                    lastMedia = now
                    return [.media(ReceivedPacket(track: track, isRTCP: false, bytes: plain)), .keyframeRequested]
                }
            } else if header.payloadType == audioPayloadType {
                if audioSSRC == nil { audioSSRC = header.ssrc }
                guard header.ssrc == audioSSRC else { return transport.once("ssrc", "RTP from a second SSRC on a track was ignored") }
                track = .audio
            } else {
                return transport.once("payload", "RTP with payload type \(header.payloadType), which the answer did not take, was ignored")
            }
            packetsReceived += 1
            bytesReceived += plain.count
            lastMedia = now
            return [.media(ReceivedPacket(track: track, isRTCP: false, bytes: plain))]
        default:
            return transport.once("garbage", "a datagram that is neither STUN, DTLS, SRTP nor SRTCP was ignored")
        }
    }

    /// A picture loss indication to the publisher: its next video frame is a keyframe. Nothing before its video.
    public func requestKeyframe() -> [PeerAction] {
        guard isConnected, let peer, let videoSSRC,
              let packet = transport.protectRTCP(RTCP.pictureLossIndication(sender: ssrc, media: videoSSRC)) else { return [] }
        return [.send(packet, to: peer)]
    }

    /// The setup and consent deadlines, and a REMB every ``reportInterval`` once video flows.
    public func tick(now: NIODeadline) -> [PeerAction] {
        guard !isClosed else { return [] }
        let due = transport.tick(now: now)
        guard due.isEmpty, isConnected else { return closing(due) }
        if let lastMedia, now - lastMedia > Self.mediaTimeout {
            return close("no media from the publisher for \(Self.mediaTimeout.nanoseconds / 1_000_000_000) s")
        }
        guard now - lastReport >= Self.reportInterval, let peer, let videoSSRC else { return [] }
        lastReport = now
        let sources = [videoSSRC] + (audioSSRC.map { [$0] } ?? [])
        guard let packet = transport.protectRTCP(RTCP.estimatedBitrate(sender: ssrc, bitrate: Self.targetBitrate, sources: sources)) else { return [] }
        return [.send(packet, to: peer)]
    }

    /// Ends the session (DELETE, a deadline, the server stops): a connected publisher is told with an RTCP BYE.
    public func close(_ reason: String) -> [PeerAction] {
        guard !isClosed else { return [] }
        var actions: [PeerAction] = []
        if isConnected, let peer, let bye = transport.protectRTCP(RTCP.bye(sources: [ssrc])) {
            actions.append(.send(bye, to: peer))
        }
        transport.markClosed(reason)
        return actions + [.close(reason)]
    }
}
