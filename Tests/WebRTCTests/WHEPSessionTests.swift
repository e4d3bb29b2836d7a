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
