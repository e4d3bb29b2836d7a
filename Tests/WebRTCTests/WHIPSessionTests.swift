import Foundation
import NIOCore
import Testing
@testable import WebRTC

@Suite("WHIP offers and answers")
struct WHIPOfferTests {
    /// A publisher's offer as browsers write it: Opus audio and VP8 + H.264 video, both sent.
    static func offer(direction: String = "sendonly", h264: Bool = true, vp8: Bool = true) -> String {
        var formats: [String] = []
        if vp8 { formats.append("96") }
        if h264 { formats += ["102", "127"] }
        var lines = ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
                     "m=audio 9 UDP/TLS/RTP/SAVPF 111 0", "c=IN IP4 0.0.0.0", "a=mid:0", "a=\(direction)",
                     "a=ice-ufrag:abcd", "a=ice-pwd:0123456789012345678901", "a=setup:actpass",
                     "a=fingerprint:sha-256 \(SDPTests.fingerprint)",
                     "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1", "a=rtpmap:0 PCMU/8000",
                     "m=video 9 UDP/TLS/RTP/SAVPF \(formats.joined(separator: " "))", "c=IN IP4 0.0.0.0", "a=mid:1", "a=\(direction)",
                     "a=ice-ufrag:abcd", "a=ice-pwd:0123456789012345678901", "a=setup:actpass",
                     "a=fingerprint:sha-256 \(SDPTests.fingerprint)"]
        if vp8 { lines.append("a=rtpmap:96 VP8/90000") }
        if h264 {
            lines += ["a=rtpmap:102 H264/90000", "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f",
                      "a=rtpmap:127 H264/90000", "a=fmtp:127 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"]
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    @Test("H.264 with packetization-mode=1 is taken before VP8, VP8 when it is all there is; Opus for audio")
    func codecs() throws {
        let both = try WHIPOffer(parsing: Self.offer())
        #expect(both.videoCodec == .h264)
        #expect(both.video.payloadType == 127, "packetization-mode=0 is passed over")
        #expect(both.video.index == 1)
        #expect(both.audio?.payloadType == 111)
        #expect(both.iceUfrag == "abcd")
        #expect(both.fingerprint == SDPTests.fingerprint)
        #expect(try WHIPOffer(parsing: Self.offer(), preferring: .vp8).videoCodec == .vp8)
        let vp8 = try WHIPOffer(parsing: Self.offer(h264: false))
        #expect(vp8.videoCodec == .vp8 && vp8.video.payloadType == 96)
    }

    @Test("an offer that sends no video, or video we cannot take, is refused with a reason")
    func refusals() {
        #expect(throws: SDPError.noVideoToReceive) { try WHIPOffer(parsing: Self.offer(direction: "recvonly")) }
        #expect(throws: SDPError.noPublishableVideo) { try WHIPOffer(parsing: Self.offer(h264: false, vp8: false)) }
        #expect(throws: SDPError.notSDP) { try WHIPOffer(parsing: "hello") }
        let noFingerprint = Self.offer().split(separator: "\r\n").filter { !$0.hasPrefix("a=fingerprint") }.joined(separator: "\r\n")
        #expect(throws: SDPError.missingFingerprint) { try WHIPOffer(parsing: noFingerprint) }
    }

    @Test("the answer receives the one chosen codec per section with PLI, FIR and REMB, passive DTLS and a host candidate")
    func answer() throws {
        let offer = try WHIPOffer(parsing: Self.offer())
        let text = WHIPAnswer(offer: offer, iceUfrag: "srvr", icePassword: "pppppppppppppppppppppp", fingerprint: "CD:EF",
                              candidates: [("192.0.2.7", 8189)], sessionID: 5).text
        for line in ["a=ice-lite", "a=group:BUNDLE 0 1", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=rtpmap:111 opus/48000/2",
                     "m=video 9 UDP/TLS/RTP/SAVPF 127", "a=rtpmap:127 H264/90000", "a=recvonly", "a=setup:passive",
                     "a=rtcp-mux", "a=rtcp-fb:127 nack pli", "a=rtcp-fb:127 goog-remb", "a=fingerprint:sha-256 CD:EF",
                     "a=end-of-candidates"] {
            #expect(text.contains(line + "\r\n"), "missing \(line)")
        }
        #expect(text.contains(" 192.0.2.7 8189 typ host\r\n"))
        #expect(!text.contains("a=sendonly"))
        #expect(!text.contains("VP8"))
    }
}

@Suite("SRTP in: index estimation and replay (RFC 3711 §3.3, appendix A)")
struct SRTPReceiveTests {
    static let key = (0..<16).map { UInt8($0) }, salt = (16..<30).map { UInt8($0) }

    static func packet(sequence: UInt16, ssrc: UInt32 = 7, payload: [UInt8] = [1, 2, 3, 4, 5]) -> [UInt8] {
        RTPHeader(payloadType: 96, sequenceNumber: sequence, timestamp: 1000, ssrc: ssrc, marker: false).packet(payload: payload)
    }

    @Test("packets across a sequence number rollover unprotect to what was sent; a late one from before it too")
    func rollover() throws {
        let sender = SRTPContext(masterKey: Self.key, masterSalt: Self.salt)
        var receiver = SRTPContext(masterKey: Self.key, masterSalt: Self.salt)
        let indices: [UInt64] = [65533, 65534, 65536, 65537, 65535, 65538]
        for index in indices {
            let plain = Self.packet(sequence: UInt16(truncatingIfNeeded: index), payload: Array("frame \(index)".utf8))
            #expect(try receiver.unprotectRTP(sender.protectRTP(plain, headerLength: 12, index: index)) == plain, "index \(index)")
        }
    }

    @Test("a header extension stays as it is and is authenticated; the payload after it decrypts")
    func headerExtension() throws {
        let sender = SRTPContext(masterKey: Self.key, masterSalt: Self.salt)
        var receiver = SRTPContext(masterKey: Self.key, masterSalt: Self.salt)
        var plain = Self.packet(sequence: 10, payload: [])
        plain[0] |= 0x10
        plain += [0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0] + Array("payload".utf8)
        let protected = sender.protectRTP(plain, headerLength: 20, index: 10)
        #expect(Array(protected[12..<20]) == Array(plain[12..<20]))
        #expect(try receiver.unprotectRTP(protected) == plain)
    }

    @Test("a replay, a flipped bit, a truncated packet and a ninth SSRC are refused and change nothing")
    func refusals() throws {
        let sender = SRTPContext(masterKey: Self.key, masterSalt: Self.salt)
        var receiver = SRTPContext(masterKey: Self.key, masterSalt: Self.salt)
        let first = sender.protectRTP(Self.packet(sequence: 100), headerLength: 12, index: 100)
        _ = try receiver.unprotectRTP(first)
        #expect(throws: SRTPError.replayed) { try receiver.unprotectRTP(first) }
        var damaged = sender.protectRTP(Self.packet(sequence: 101), headerLength: 12, index: 101)
        damaged[13] ^= 1
        #expect(throws: SRTPError.authenticationFailed) { try receiver.unprotectRTP(damaged) }
        #expect(throws: SRTPError.tooShort) { try receiver.unprotectRTP(Array(first.prefix(15))) }
        // The damaged packet did not move the window: the real 101 still goes through.
        #expect(try receiver.unprotectRTP(sender.protectRTP(Self.packet(sequence: 101), headerLength: 12, index: 101)) == Self.packet(sequence: 101))
        for ssrc in UInt32(8)..<15 {
            _ = try receiver.unprotectRTP(sender.protectRTP(Self.packet(sequence: 1, ssrc: ssrc), headerLength: 12, index: 1))
        }
        let ninth = sender.protectRTP(Self.packet(sequence: 1, ssrc: 99), headerLength: 12, index: 1)
        #expect(throws: SRTPError.authenticationFailed) { try receiver.unprotectRTP(ninth) }
    }
}

@Suite("A WHIP session: media in, feedback out", .enabled(if: LibSSL.shared != nil, "needs the system's OpenSSL 3"))
struct WHIPSessionTests {
    static let keys = WHEPConnectedSessionTests.keys
    /// The publisher's side: what it protects with (the DTLS client's keys) and checks our RTCP with (the server's).
    static var publisherOut: SRTPContext { SRTPContext(masterKey: keys.clientKey, masterSalt: keys.clientSalt) }
    static var publisherIn: SRTPContext { SRTPContext(masterKey: keys.serverKey, masterSalt: keys.serverSalt) }

    static func connected(now: NIODeadline) throws -> (WHIPSession, SocketAddress) {
        let offer = try WHIPOffer(parsing: WHIPOfferTests.offer())
        let session = WHIPSession(id: "p1", channel: "c", offer: offer, localUfrag: "LOCL", localPassword: WHEPSessionTests.localPassword,
                                  dtls: try DTLSEndpoint(context: try DTLSContext(), peerFingerprint: offer.fingerprint), ssrc: 55, now: now)
        let peer = try SocketAddress(ipAddress: "192.0.2.1", port: 4000)
        #expect(session.receive(stun: WHEPSessionTests.binding(), from: peer, now: now).first == .bind(peer))
        #expect(session.transport.connected(keys: keys, now: now) == [.connected])
        return (session, peer)
    }

    static func rtp(_ type: UInt8, sequence: UInt16, ssrc: UInt32) -> [UInt8] {
        RTPHeader(payloadType: type, sequenceNumber: sequence, timestamp: 3000, ssrc: ssrc, marker: true).packet(payload: [0x65, 1, 2, 3])
    }

    @Test("RTP of the answer's video and audio types comes out decrypted per track; another type or a second SSRC does not")
    func media() throws {
        let now = NIODeadline.now()
        let (session, peer) = try Self.connected(now: now)
        let out = Self.publisherOut
        let video = Self.rtp(127, sequence: 1, ssrc: 1000), audio = Self.rtp(111, sequence: 1, ssrc: 2000)
        #expect(session.receive(datagram: out.protectRTP(video, headerLength: 12, index: 1), from: peer, now: now)
            == [.media(ReceivedPacket(track: .video, isRTCP: false, bytes: video))])
        #expect(session.receive(datagram: out.protectRTP(audio, headerLength: 12, index: 1), from: peer, now: now)
            == [.media(ReceivedPacket(track: .audio, isRTCP: false, bytes: audio))])
        let other = session.receive(datagram: out.protectRTP(Self.rtp(96, sequence: 2, ssrc: 1000), headerLength: 12, index: 2), from: peer, now: now)
        #expect(other.count == 1 && other.allSatisfy { if case .log = $0 { true } else { false } })
        let second = session.receive(datagram: out.protectRTP(Self.rtp(127, sequence: 1, ssrc: 3000), headerLength: 12, index: 1), from: peer, now: now)
        #expect(!second.contains { if case .media = $0 { true } else { false } })
        // From another address, nothing at all.
        let stranger = try SocketAddress(ipAddress: "192.0.2.9", port: 4000)
        #expect(session.receive(datagram: out.protectRTP(Self.rtp(127, sequence: 3, ssrc: 1000), headerLength: 12, index: 3), from: stranger, now: now).isEmpty)
        #expect(session.packetsReceived == 2)
        // A sender report from the video SSRC goes to the video track as RTCP.
        let report = RTCP.senderReport(ssrc: 1000, ntp: 1 << 40, rtpTimestamp: 3000, packets: 1, octets: 4, cname: "x")
        #expect(session.receive(datagram: out.protectRTCP(report, index: 1), from: peer, now: now)
            == [.media(ReceivedPacket(track: .video, isRTCP: true, bytes: report))])
    }

    @Test("a hole in the video's sequence numbers asks for a keyframe; consecutive and late packets do not")
    func loss() throws {
        let now = NIODeadline.now()
        let (session, peer) = try Self.connected(now: now)
        let out = Self.publisherOut
        func send(_ sequence: UInt16) -> [PeerAction] {
            session.receive(datagram: out.protectRTP(Self.rtp(127, sequence: sequence, ssrc: 1000), headerLength: 12, index: UInt64(sequence)),
                            from: peer, now: now)
        }
        #expect(!send(10).contains(.keyframeRequested))
        #expect(!send(11).contains(.keyframeRequested))
        #expect(send(14).last == .keyframeRequested)
        #expect(!send(12).contains(.keyframeRequested), "a late packet is no new hole")
        #expect(!send(15).contains(.keyframeRequested))
    }

    @Test("a keyframe request is a PLI for the publisher's video SSRC; REMB goes out each second; BYE ends the session")
    func feedback() throws {
        let now = NIODeadline.now()
        let (session, peer) = try Self.connected(now: now)
        #expect(session.requestKeyframe().isEmpty, "no video yet: nobody to ask")
        _ = session.receive(datagram: Self.publisherOut.protectRTP(Self.rtp(127, sequence: 1, ssrc: 1000), headerLength: 12, index: 1), from: peer, now: now)
        var check = Self.publisherIn
        guard case let .send(pli, to)? = session.requestKeyframe().first else {
            Issue.record("no PLI")
            return
        }
        #expect(to == peer)
        #expect(RTCP.parse(try check.unprotectRTCP(pli), mediaSSRC: 1000) == [.pictureLoss])
        #expect(session.tick(now: now + .milliseconds(500)).isEmpty)
        guard case let .send(remb, _)? = session.tick(now: now + .seconds(1)).first else {
            Issue.record("no REMB")
            return
        }
        let plain = try check.unprotectRTCP(remb)
        #expect(Array(plain[12..<16]) == Array("REMB".utf8))
        let bye = RTCP.bye(sources: [1000])
        let actions = session.receive(datagram: Self.publisherOut.protectRTCP(bye, index: 1), from: peer, now: now)
        #expect(actions.last == .close("the publisher sent RTCP BYE"))
        #expect(session.isClosed)
    }

    @Test("a publisher whose media stops is dropped after the media timeout, one that never sent after the consent timeout")
    func consent() throws {
        let now = NIODeadline.now()
        let (sending, peer) = try Self.connected(now: now)
        _ = sending.receive(datagram: Self.publisherOut.protectRTP(Self.rtp(127, sequence: 1, ssrc: 1000), headerLength: 12, index: 1), from: peer, now: now)
        #expect(!sending.tick(now: now + .seconds(5)).contains { if case .close = $0 { true } else { false } })
        #expect(sending.tick(now: now + WHIPSession.mediaTimeout + .seconds(1)).last == .close("no media from the publisher for 10 s"))
        let (session, _) = try Self.connected(now: now)
        #expect(session.tick(now: now + .seconds(20)).allSatisfy { if case .close = $0 { false } else { true } })
        let dropped = session.tick(now: now + PeerTransport.consentTimeout + .seconds(1))
        #expect(dropped.contains { if case .close = $0 { true } else { false } })
        #expect(session.isClosed)
    }
}
