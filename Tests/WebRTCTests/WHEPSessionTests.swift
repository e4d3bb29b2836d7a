import Foundation
import NIOCore
import Testing
@testable import WebRTC

@Suite("A WHEP session's ICE-lite and bad input", .enabled(if: LibSSL.shared != nil, "needs the system's OpenSSL 3"))
struct WHEPSessionTests {
    static let localPassword = "localpasswordlocalpassword"

    static func session(now: NIODeadline) throws -> WHEPSession {
        let context = try DTLSContext()
        let offer = try WHEPOffer(parsing: SDPTests.offer())
        return WHEPSession(id: "s1", channel: "c", offer: offer, localUfrag: "LOCL", localPassword: localPassword,
                           dtls: try DTLSEndpoint(context: context, peerFingerprint: offer.fingerprint),
                           ssrc: 1234, cname: "c", now: now)
    }

    static func binding(username: String = "LOCL:abcd", password: String = localPassword, nominate: Bool = true) -> STUNMessage {
        var attributes: [STUNMessage.Attribute] = [.init(type: STUNMessage.AttributeType.username, value: Array(username.utf8))]
        if nominate { attributes.append(.init(type: STUNMessage.AttributeType.useCandidate, value: [])) }
        let request = STUNMessage(type: STUNMessage.bindingRequest, transactionID: Array(0..<12), attributes: attributes)
        // Encoded and parsed back, as the socket would deliver it.
        return (try? STUNMessage(parsing: request.encoded(integrityKey: Array(password.utf8), fingerprint: true))) ?? request
    }

    @Test("the certificate's SHA-256 fingerprint is 32 colon-separated hex pairs")
    func fingerprint() throws {
        let context = try DTLSContext()
        #expect(context.fingerprint.split(separator: ":").count == 32)
        #expect(try DTLSContext().fingerprint != context.fingerprint)
    }

    @Test("a valid Binding request binds the address and gets a success with its XOR-MAPPED-ADDRESS and our integrity")
    func binds() throws {
        let now = NIODeadline.now()
        let session = try Self.session(now: now)
        let peer = try SocketAddress(ipAddress: "192.0.2.1", port: 32853)
        let actions = session.receive(stun: Self.binding(), from: peer, now: now)
        #expect(actions.first == .bind(peer))
        guard case let .send(bytes, to) = actions.last else {
            Issue.record("no response")
            return
        }
        #expect(to == peer)
        let response = try STUNMessage(parsing: bytes)
        #expect(response.type == STUNMessage.bindingSuccess)
        #expect(response.transactionID == Array(0..<12))
        #expect(response.hasValidIntegrity(key: Array(Self.localPassword.utf8)))
        #expect(response.hasValidFingerprint)
        #expect(response.attribute(STUNMessage.AttributeType.xorMappedAddress) == [0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43])
        #expect(session.state == .handshaking)
    }

    @Test("a wrong password or username gets nothing and one log line, however often it comes")
    func refusesBadCredentials() throws {
        let now = NIODeadline.now()
        let session = try Self.session(now: now)
        let peer = try SocketAddress(ipAddress: "192.0.2.1", port: 4000)
        let first = session.receive(stun: Self.binding(password: "notthepasswordnotthepassword"), from: peer, now: now)
        #expect(first.count == 1)
        guard case .log = first.first else {
            Issue.record("expected a log line, got \(first)")
            return
        }
        #expect(session.receive(stun: Self.binding(username: "LOCL:zzzz"), from: peer, now: now).isEmpty)
        #expect(session.peer == nil)
    }

    @Test("datagrams from an address that never completed a binding are ignored; DTLS garbage leaves the session open")
    func spoofedAndGarbage() throws {
        let now = NIODeadline.now()
        let session = try Self.session(now: now)
        let peer = try SocketAddress(ipAddress: "192.0.2.1", port: 4000)
        let spoofer = try SocketAddress(ipAddress: "192.0.2.66", port: 4000)
        _ = session.receive(stun: Self.binding(), from: peer, now: now)
        #expect(session.receive(datagram: [22, 0xfe, 0xfd] + [UInt8](repeating: 0x41, count: 60), from: spoofer, now: now).isEmpty)
        let garbage = session.receive(datagram: [22, 0xfe, 0xfd] + [UInt8](repeating: 0x41, count: 60), from: peer, now: now)
        #expect(!garbage.contains { if case .send = $0 { true } else { false } })
        #expect(!session.isClosed)
        // SRTCP before keys, and RTP garbage, change nothing either.
        #expect(session.receive(datagram: [0x80, 200, 0, 1, 0, 0, 0, 0], from: peer, now: now).isEmpty)
        #expect(session.send([.init(bytes: [0x65, 1], marker: true)], mediaTime: 0, isKeyframe: true).isEmpty)
    }

    @Test("a session that never completes ICE and DTLS is closed after the setup timeout")
    func setupTimeout() throws {
        let now = NIODeadline.now()
        let session = try Self.session(now: now)
        #expect(session.tick(now: now + .seconds(5), clock: nil).isEmpty)
        let actions = session.tick(now: now + WHEPSession.setupTimeout + .seconds(1), clock: nil)
        guard case .close = actions.first else {
            Issue.record("expected a close, got \(actions)")
            return
        }
        #expect(session.isClosed)
    }
}

@Suite("A connected WHEP session's media, feedback and deadlines", .enabled(if: LibSSL.shared != nil, "needs the system's OpenSSL 3"))
struct WHEPConnectedSessionTests {
    static let keys = SRTPKeyingMaterial(exported: (0..<60).map { UInt8($0) })!
    /// What the viewer protects its RTCP with, and checks our packets with.
    static var viewerOut: SRTPContext { SRTPContext(masterKey: keys.clientKey, masterSalt: keys.clientSalt) }

    static func connected(now: NIODeadline) throws -> (WHEPSession, SocketAddress) {
        let session = try WHEPSessionTests.session(now: now)
        let peer = try SocketAddress(ipAddress: "192.0.2.1", port: 4000)
        _ = session.receive(stun: WHEPSessionTests.binding(), from: peer, now: now)
        #expect(session.connected(keys: keys, now: now) == [.connected])
        return (session, peer)
    }

    static let unit: [H264Packetizer.Payload] = H264Packetizer.payloads(
        nalUnits: [([0x65] + [UInt8](repeating: 9, count: 3000))[...]], parameterSets: [[0x67, 1, 2], [0x68, 3]],
        maximumPayload: WHEPSession.maximumPayload)

    @Test("media waits for a keyframe, then goes out as SRTP with consecutive sequence numbers and one timestamp per frame")
    func media() throws {
        let now = NIODeadline.now()
        let (session, _) = try Self.connected(now: now)
        #expect(session.send([.init(bytes: [0x41, 1], marker: true)], mediaTime: 0, isKeyframe: false).isEmpty)
        let packets = session.send(Self.unit, mediaTime: 90_000, isKeyframe: true)
        #expect(packets.count == Self.unit.count)
        let headers = packets.compactMap(RTPHeader.init(parsing:))
        #expect(headers.count == packets.count)
        #expect(Set(headers.map(\.timestamp)).count == 1)
        #expect(headers.first?.timestamp == UInt32(90_000) &+ session.timestampOffset)
        #expect(zip(headers, headers.dropFirst()).allSatisfy { $1.sequenceNumber == $0.sequenceNumber &+ 1 })
        #expect(headers.map(\.marker) == Array(repeating: false, count: headers.count - 1) + [true])
        #expect(headers.allSatisfy { $0.ssrc == 1234 && $0.payloadType == 102 })
    }

    @Test("a NACK from the viewer resends those packets byte for byte; PLI is noted; a forged RTCP packet changes nothing")
    func feedback() throws {
        let now = NIODeadline.now()
        let (session, peer) = try Self.connected(now: now)
        let packets = session.send(Self.unit, mediaTime: 0, isKeyframe: true)
        let second = try #require(RTPHeader(parsing: packets[1]))
        var nack: [UInt8] = [0x81, 205, 0, 3, 0, 0, 0, 9, 0, 0, 0x04, 0xD2,
                             UInt8(second.sequenceNumber >> 8), UInt8(second.sequenceNumber & 0xFF), 0, 0b1]
        let viewer = Self.viewerOut
        let actions = session.receive(datagram: viewer.protectRTCP(nack, index: 1), from: peer, now: now)
        #expect(actions == [.send(packets[1], to: peer), .send(packets[2], to: peer)])
        #expect(session.retransmitted == 2)
        let pli: [UInt8] = [0x81, 206, 0, 2, 0, 0, 0, 9, 0, 0, 0x04, 0xD2]
        #expect(session.receive(datagram: viewer.protectRTCP(pli, index: 2), from: peer, now: now) == [.keyframeRequested])
        nack[12] ^= 0xFF
        var forged = viewer.protectRTCP(nack, index: 3)
        forged[forged.count - 1] ^= 1
        let refused = session.receive(datagram: forged, from: peer, now: now)
        #expect(!refused.contains { if case .send = $0 { true } else { false } })
        #expect(!session.isClosed)
    }

    @Test("every second a sender report maps the RTP timestamp to the stream clock's wall time")
    func senderReport() throws {
        let now = NIODeadline.now()
        let (session, peer) = try Self.connected(now: now)
        _ = session.send(Self.unit, mediaTime: 0, isKeyframe: true)
        let wall = Date(timeIntervalSince1970: 1_800_000_000.25)
        #expect(session.tick(now: now + .milliseconds(500), clock: (wall, 450_000)).isEmpty)
        let actions = session.tick(now: now + .seconds(1), clock: (wall, 450_000))
        guard case let .send(bytes, to) = actions.first else {
            Issue.record("no sender report: \(actions)")
            return
        }
        #expect(to == peer)
        // The viewer reads it with the server's keys.
        var reader = SRTPContext(masterKey: Self.keys.serverKey, masterSalt: Self.keys.serverSalt)
        let report = try reader.unprotectRTCP(bytes)
        #expect(report[1] == 200)
        let ntp = UInt64(readBigEndian32(report, at: 8)) << 32 | UInt64(readBigEndian32(report, at: 12))
        #expect(ntp == RTCP.ntpTimestamp(wall))
        #expect(readBigEndian32(report, at: 16) == UInt32(450_000) &+ session.timestampOffset)
        #expect(readBigEndian32(report, at: 20) == UInt32(Self.unit.count))
    }

    @Test("a connected viewer silent for the consent timeout is dropped; RTCP BYE ends it at once")
    func deadlines() throws {
        let now = NIODeadline.now()
        let (silent, _) = try Self.connected(now: now)
        #expect(silent.tick(now: now + .seconds(20), clock: nil).isEmpty)
        let dropped = silent.tick(now: now + WHEPSession.consentTimeout + .seconds(1), clock: nil)
        guard case .close = dropped.last, case let .send(bytes, _) = dropped.first else {
            Issue.record("expected a BYE and a close, got \(dropped)")
            return
        }
        // The viewer is told: an RTCP BYE for our stream, under the server's keys.
        var reader = SRTPContext(masterKey: Self.keys.serverKey, masterSalt: Self.keys.serverSalt)
        #expect(RTCP.parse(try reader.unprotectRTCP(bytes), mediaSSRC: 1234) == [.bye])
        let (leaving, peer) = try Self.connected(now: now)
        let bye: [UInt8] = [0x81, 203, 0, 1, 0, 0, 0, 9]
        let actions = leaving.receive(datagram: Self.viewerOut.protectRTCP(bye, index: 1), from: peer, now: now)
        guard case .close = actions.last else {
            Issue.record("expected a close, got \(actions)")
            return
        }
        #expect(leaving.isClosed)
    }
}
