import Testing
@testable import WebRTC

@Suite("STUN (RFC 8489) against the RFC 5769 test vectors")
struct STUNMessageTests {
    static let password = Array("VOkJxbRl1RmTxUk/WvJxBt".utf8)

    /// RFC 5769 §2.1: a Binding request with SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME "evtj:h6vY",
    /// MESSAGE-INTEGRITY and FINGERPRINT (padding bytes are spaces in the RFC).
    static let request = hex("""
        00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
        00 24 00 04 6e 00 01 ff 80 29 00 08 93 2f f9 b1 51 26 3b 36
        00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
        00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
        80 28 00 04 e5 7a 3b cf
        """)

    /// RFC 5769 §2.2: the IPv4 success response, XOR-MAPPED-ADDRESS 192.0.2.1:32853.
    static let response = hex("""
        01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
        00 20 00 08 00 01 a1 47 e1 12 a6 43
        00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
        80 28 00 04 c0 7d 4c 96
        """)

    @Test("the sample request parses, and its integrity and fingerprint check")
    func sampleRequest() throws {
        #expect(STUNMessage.looksLikeSTUN(Self.request))
        let message = try STUNMessage(parsing: Self.request)
        #expect(message.type == STUNMessage.bindingRequest)
        #expect(message.username == "evtj:h6vY")
        #expect(message.attribute(STUNMessage.AttributeType.priority) == [0x6e, 0x00, 0x01, 0xff])
        #expect(message.hasValidIntegrity(key: Self.password))
        #expect(message.hasValidFingerprint)
        #expect(!message.hasValidIntegrity(key: Array("wrong password, 22 chars".utf8)))
    }

    @Test("the sample response checks; our encoder writes its header, SOFTWARE and XOR-MAPPED-ADDRESS bytes")
    func sampleResponse() throws {
        let parsed = try STUNMessage(parsing: Self.response)
        #expect(parsed.hasValidIntegrity(key: Self.password))
        #expect(parsed.hasValidFingerprint)
        let transaction = Array(Self.response[8..<20])
        let mapped = STUNMessage.xorMappedAddress(address: [192, 0, 2, 1], port: 32853, transactionID: transaction)
        #expect(parsed.attribute(STUNMessage.AttributeType.xorMappedAddress) == mapped)
        // The RFC pads "test vector" (11 bytes) with a space; our encoder pads with zeros, so the space goes in the value
        // and only the stated length differs. (MESSAGE-INTEGRITY covers that length: the RFC's own is checked above.)
        let built = STUNMessage(type: STUNMessage.bindingSuccess, transactionID: transaction, attributes: [
            .init(type: STUNMessage.AttributeType.software, value: Array("test vector ".utf8)),
            .init(type: STUNMessage.AttributeType.xorMappedAddress, value: mapped),
        ])
        var encoded = built.encoded(integrityKey: Self.password, fingerprint: true)
        #expect(encoded.count == Self.response.count)
        encoded[23] = 0x0b  // the SOFTWARE length the RFC states: 11, the padding not counted
        #expect(Array(encoded[0..<48]) == Array(Self.response[0..<48]))
        let ours = try STUNMessage(parsing: built.encoded(integrityKey: Self.password, fingerprint: true))
        #expect(ours.hasValidIntegrity(key: Self.password) && ours.hasValidFingerprint)
    }

    @Test("one flipped bit anywhere breaks the integrity or the fingerprint")
    func tampered() throws {
        // Inside SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY and FINGERPRINT values.
        for index in [25, 45, 55, 70, 85, 105] {
            var bytes = Self.request
            bytes[index] ^= 0x01
            let message = try STUNMessage(parsing: bytes)
            #expect(!(message.hasValidIntegrity(key: Self.password) && message.hasValidFingerprint))
        }
    }

    @Test("truncated or inconsistent messages are refused, not read past their end", arguments: [
        [UInt8](), Array(request.prefix(19)), Array(request.prefix(40)), Array(request.prefix(21)),
        [0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42] + [UInt8](repeating: 0, count: 12) + [0x00, 0x06, 0x00, 0x10],
        [0xff] + Array(request.dropFirst()),
    ])
    func malformed(bytes: [UInt8]) {
        #expect(throws: STUNError.self) { try STUNMessage(parsing: bytes) }
    }
}
