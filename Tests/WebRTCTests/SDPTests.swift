import Foundation
import Testing
@testable import WebRTC

@Suite("WHEP SDP offers and answers")
struct SDPTests {
    static let fingerprint = (0..<32).map { _ in "AB" }.joined(separator: ":")

    static func offer(setup: String = "actpass", h264: Bool = true, fingerprint: String? = SDPTests.fingerprint) -> String {
        var lines = ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
                     "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:0", "a=recvonly",
                     "a=ice-ufrag:abcd", "a=ice-pwd:0123456789012345678901", "a=rtpmap:111 opus/48000/2",
                     "m=video 9 UDP/TLS/RTP/SAVPF 96 102 104", "c=IN IP4 0.0.0.0", "a=mid:1", "a=recvonly",
                     "a=ice-ufrag:abcd", "a=ice-pwd:0123456789012345678901", "a=setup:\(setup)",
                     "a=rtpmap:96 VP8/90000"]
        if let fingerprint { lines.append("a=fingerprint:sha-256 \(fingerprint)") }
        if h264 {
            lines += ["a=rtpmap:102 H264/90000", "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
                      "a=rtpmap:104 H264/90000", "a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f"]
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    @Test("an offer yields the peer's ICE credentials, fingerprint, and the H.264 payload type of the stream's profile")
    func parse() throws {
        let offer = try WHEPOffer(parsing: Self.offer(), profile: 0x64)
        #expect(offer.iceUfrag == "abcd")
        #expect(offer.icePassword == "0123456789012345678901")
        #expect(offer.fingerprint == Self.fingerprint)
        #expect(offer.videoIndex == 1)
        #expect(offer.payloadType == 104)
        #expect(try WHEPOffer(parsing: Self.offer(), profile: nil).payloadType == 102)
    }

    @Test("the answer is ICE-lite, passive, send-only H.264 with feedback and a host candidate; audio is inactive")
    func answer() throws {
        let offer = try WHEPOffer(parsing: Self.offer())
        let text = WHEPAnswer(offer: offer, iceUfrag: "srvr", icePassword: "pppppppppppppppppppppp", fingerprint: "CD:EF",
                              candidates: [("192.0.2.7", 8189)], ssrc: 77, cname: "c", sessionID: 5).text
        for line in ["a=ice-lite", "a=group:BUNDLE 0 1", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=inactive", "a=rtpmap:111 opus/48000/2",
                     "m=video 9 UDP/TLS/RTP/SAVPF 102",
                     "a=setup:passive", "a=sendonly", "a=rtcp-mux", "a=rtcp-fb:102 nack pli", "a=ssrc:77 cname:c",
                     "a=fingerprint:sha-256 CD:EF", "a=ice-ufrag:srvr"] {
            #expect(text.contains(line + "\r\n"), "missing \(line)")
        }
        #expect(text.contains(" 192.0.2.7 8189 typ host\r\n"))
    }

    @Test("with an SSRC for audio, the offer's Opus section is answered send-only Opus in the bundle")
    func audioAnswer() throws {
        let offer = try WHEPOffer(parsing: Self.offer())
        #expect(offer.audio == WHEPOffer.AudioSection(index: 0, payloadType: 111))
        let text = WHEPAnswer(offer: offer, iceUfrag: "srvr", icePassword: "pppppppppppppppppppppp", fingerprint: "CD:EF",
                              candidates: [("192.0.2.7", 8189)], ssrc: 77, cname: "c", sessionID: 5, audioSSRC: 88).text
        let audio = try #require(text.components(separatedBy: "m=video").first)
        for line in ["m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=sendonly", "a=rtpmap:111 opus/48000/2", "a=ssrc:88 cname:c", "a=mid:0"] {
            #expect(audio.contains(line + "\r\n"), "missing \(line)")
        }
        #expect(!audio.contains("a=inactive"))
        let noOpus = try WHEPOffer(parsing: Self.offer().replacingOccurrences(of: "opus/48000/2", with: "PCMU/8000"))
        #expect(noOpus.audio == nil)
    }

    @Test("offers the server cannot answer are refused with the reason", arguments: [
        ("hello", SDPError.notSDP),
        (offer(setup: "passive"), .unsupportedSetup("passive")),
        (offer(h264: false), .noH264),
        (offer(fingerprint: nil), .missingFingerprint),
        (offer(fingerprint: "AB:CD"), .missingFingerprint),
        (offer().replacingOccurrences(of: "m=video", with: "m=text"), .noVideo),
        (offer().replacingOccurrences(of: "a=ice-ufrag:abcd\r\n", with: ""), .missingICECredentials),
        (offer().replacingOccurrences(of: "ice-ufrag:abcd", with: "ice-ufrag:a b"), .badICECredentials),
        (offer().replacingOccurrences(of: "UDP/TLS/RTP/SAVPF 96", with: "RTP/AVP 96"), .unsupportedTransport("RTP/AVP")),
        (String(repeating: "a", count: 40_000), .tooLarge(limit: WHEPOffer.maximumBytes)),
    ])
    func refused(text: String, error: SDPError) {
        #expect(throws: error) { try WHEPOffer(parsing: text) }
    }
}
