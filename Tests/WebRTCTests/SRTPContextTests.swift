import Crypto
import Testing
@testable import WebRTC

@Suite("SRTP AES-CM and key derivation (RFC 3711 appendix B)")
struct SRTPContextTests {
    @Test("B.2: the AES-CM keystream for the sample session key and IV")
    func keystream() {
        let key = SymmetricKey(data: hex("2B7E151628AED2A6ABF7158809CF4F3C"))
        let stream = SRTPContext.keystream(key: key, iv: hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"), count: 48)
        #expect(stream == hex("""
            E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB 41E95B3BB0A2E8DD477901E4FCA894C0
            """))
    }

    @Test("B.3: session keys derived from the sample master key and salt")
    func keyDerivation() {
        let context = SRTPContext(masterKey: hex("E1F97A0D3E018BE0D64FA32C06DE4139"), masterSalt: hex("0EC675AD498AFEEBB6960B3AABE6"))
        #expect(context.rtpKey.withUnsafeBytes { Array($0) } == hex("C61E7A93744F39EE10734AFE3FF7A087"))
        #expect(context.rtpSalt == hex("30CBBC08863D8C85D49DB34A9AE1"))
        #expect(context.rtpAuth.withUnsafeBytes { Array($0) } == hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"))
    }

    @Test("an SRTCP packet we protect unprotects with the same keys; a replay or a flipped bit is refused")
    func rtcpRoundTrip() throws {
        let key = hex("E1F97A0D3E018BE0D64FA32C06DE4139"), salt = hex("0EC675AD498AFEEBB6960B3AABE6")
        let sender = SRTPContext(masterKey: key, masterSalt: salt)
        var receiver = SRTPContext(masterKey: key, masterSalt: salt)
        let report = RTCP.senderReport(ssrc: 0x1234_5678, ntp: 1 << 40, rtpTimestamp: 9000, packets: 3, octets: 300, cname: "x")
        let protected = sender.protectRTCP(report, index: 7)
        #expect(protected.count == report.count + 4 + 10)
        #expect(Array(protected[8..<report.count]) != Array(report[8...]))
        #expect(try receiver.unprotectRTCP(protected) == report)
        #expect(throws: SRTPError.replayed) { try receiver.unprotectRTCP(protected) }
        var damaged = sender.protectRTCP(report, index: 8)
        damaged[12] ^= 0x40
        #expect(throws: SRTPError.authenticationFailed) { try receiver.unprotectRTCP(damaged) }
        #expect(throws: SRTPError.tooShort) { try receiver.unprotectRTCP([0x80, 200, 0, 1]) }
    }

    @Test("SRTP leaves the header readable, encrypts the payload and appends an 80-bit tag over both and the ROC")
    func rtpProtect() {
        let context = SRTPContext(masterKey: hex("E1F97A0D3E018BE0D64FA32C06DE4139"), masterSalt: hex("0EC675AD498AFEEBB6960B3AABE6"))
        let header = RTPHeader(payloadType: 102, sequenceNumber: 5, timestamp: 1000, ssrc: 42, marker: true)
        let plain = header.packet(payload: [UInt8](repeating: 0xAB, count: 100))
        let first = context.protectRTP(plain, headerLength: 12, index: 5)
        #expect(first.count == 122)
        #expect(Array(first.prefix(12)) == Array(plain.prefix(12)))
        #expect(Array(first[12..<112]) != Array(plain[12...]))
        // Same sequence number, next rollover: a different keystream and tag.
        let wrapped = context.protectRTP(plain, headerLength: 12, index: 5 + (1 << 16))
        #expect(wrapped != first)
    }
}
