import Testing
@testable import WebRTC

/// A small deterministic generator, so a failure reproduces.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("what a viewer sends, as garbage: parsers throw or ignore, never trap")
struct GarbageTests {
    static func inputs(from seeds: [[UInt8]], count: Int) -> [[UInt8]] {
        var generator = SplitMix64(state: 42)
        var result: [[UInt8]] = []
        for index in 0..<count {
            if index % 2 == 0, let seed = seeds.randomElement(using: &generator) {
                // A valid message with a few bytes flipped, truncated or extended.
                var bytes = seed
                for _ in 0..<Int.random(in: 1...4, using: &generator) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
                if Bool.random(using: &generator) { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator))) }
                result.append(bytes)
            } else {
                result.append((0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            }
        }
        return result
    }

    @Test("STUN: mutated RFC 5769 messages and random bytes parse or throw; checks on what parses never trap")
    func stun() {
        for bytes in Self.inputs(from: [STUNMessageTests.request, STUNMessageTests.response], count: 4000) {
            guard let message = try? STUNMessage(parsing: bytes) else { continue }
            _ = message.username
            _ = message.hasValidIntegrity(key: STUNMessageTests.password)
            _ = message.hasValidFingerprint
        }
    }

    @Test("RTCP and SRTCP: mutated feedback and random bytes are read or refused, never trap")
    func rtcp() {
        let report = RTCP.senderReport(ssrc: 9, ntp: 1, rtpTimestamp: 2, packets: 3, octets: 4, cname: "c")
        let nack: [UInt8] = [0x81, 205, 0, 3, 0, 0, 0, 9, 0, 0, 0x12, 0x34, 0x00, 0x10, 0, 5]
        var context = SRTPContext(masterKey: [UInt8](repeating: 1, count: 16), masterSalt: [UInt8](repeating: 2, count: 14))
        for bytes in Self.inputs(from: [report, nack, report + nack], count: 4000) {
            _ = RTCP.parse(bytes, mediaSSRC: 0x1234)
            _ = RTCP.isRTCP(bytes)
            _ = RTPHeader(parsing: bytes)
            _ = try? context.unprotectRTCP(bytes)
        }
    }

    @Test("SDP: mutated offers and random text are answered or refused with an SDPError, never trap")
    func sdp() {
        let offer = Array(SDPTests.offer().utf8)
        for bytes in Self.inputs(from: [offer], count: 1500) {
            let text = String(decoding: bytes, as: UTF8.self)
            if let parsed = try? WHEPOffer(parsing: text) {
                _ = WHEPAnswer(offer: parsed, iceUfrag: "srvr", icePassword: "pppppppppppppppppppppp", fingerprint: "AA",
                               candidates: [("127.0.0.1", 1)], ssrc: 1, cname: "c", sessionID: 1, audioSSRC: 2).text
            }
        }
    }

    @Test("H.264 samples with lying lengths split into what fits, never trap")
    func samples() {
        for bytes in Self.inputs(from: [[0, 0, 0, 3, 0x65, 1, 2, 0, 0, 0, 2, 0x41, 9]], count: 2000) {
            let units = H264Packetizer.nalUnits(in: bytes, lengthSize: 4)
            _ = H264Packetizer.payloads(nalUnits: units, parameterSets: [[0x67], [0x68]], maximumPayload: 40)
        }
    }
}
