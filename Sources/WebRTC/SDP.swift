import Foundation

/// Why an SDP offer cannot be answered; each becomes a 400 with this message.
public enum SDPError: Error, Sendable, Equatable, CustomStringConvertible {
    case notSDP
    case tooLarge(limit: Int)
    case noVideo
    case missingICECredentials
    case badICECredentials
    case missingFingerprint
    case unsupportedSetup(String)
    case unsupportedTransport(String)
    case noH264
    case noVideoToReceive
    case noPublishableVideo

    public var description: String {
        switch self {
        case .notSDP: "the body is not an SDP offer (it must start with v=0)"
        case let .tooLarge(limit): "the SDP offer is larger than \(limit) bytes"
        case .noVideo: "the offer has no video m-section to receive on"
        case .missingICECredentials: "the offer has no a=ice-ufrag and a=ice-pwd"
        case .badICECredentials: "a=ice-ufrag or a=ice-pwd has characters or a length RFC 8839 §5.4 does not allow"
        case .missingFingerprint: "the offer has no a=fingerprint:sha-256"
        case let .unsupportedSetup(value): "a=setup:\(value) is not supported: the server is the DTLS server (offer actpass or active)"
        case let .unsupportedTransport(proto): "the video m-section uses \(proto); only UDP/TLS/RTP/SAVPF is supported"
        case .noH264: "the offer has no H.264 with packetization-mode=1 (RFC 6184), the only video codec served"
        case .noVideoToReceive: "the offer sends no video: a WHIP offer needs a sendonly (or sendrecv) video m-section"
        case .noPublishableVideo: "the offer's video is neither H.264 with packetization-mode=1 (RFC 6184) nor VP8"
        }
    }
}

/// A WHEP viewer's SDP offer (RFC 8866, JSEP RFC 8829), read for what an ICE-lite, send-only server answers: the
/// peer's ICE credentials and certificate fingerprint, the video m-section and the H.264 payload type to send with,
/// and every other m-section, which the answer rejects (port 0).
public struct WHEPOffer: Sendable, Equatable {
    public struct Section: Sendable, Equatable {
        public var kind: String
        public var proto: String
        public var formats: [String]
        public var mid: String?
        /// The `a=rtpmap` value of the first format, if any (`111 opus/48000/2`).
        public var firstRTPMap: String?
    }

    public var iceUfrag: String
    public var icePassword: String
    /// The peer's `sha-256` certificate fingerprint (`AA:BB:…`, upper case).
    public var fingerprint: String
    public var sections: [Section]
    /// Index in `sections` of the video section we send on.
    public var videoIndex: Int
    public var payloadType: UInt8
    /// The `a=fmtp` parameters offered with that payload type.
    public var formatParameters: String
    /// The first audio section that may receive and offers Opus (RFC 7587), with Opus's payload type: where audio can go.
    public var audio: AudioSection?

    public struct AudioSection: Sendable, Equatable {
        public var index: Int
        public var payloadType: UInt8
    }

    public static let maximumBytes = 32 * 1024

    /// Reads an offer. `profile` (the stream's `profile_idc`) picks, among several H.264 payload types, one whose
    /// `profile-level-id` names that profile.
    public init(parsing text: String, profile: UInt8? = nil) throws(SDPError) {
        let document = try SDPDocument(parsing: text, limit: Self.maximumBytes)
        sections = document.media.map { media in
            Section(kind: media.kind, proto: media.proto, formats: media.formats, mid: media.mid,
                    firstRTPMap: media.formats.first.flatMap { format in media.rtpmap(format).map { "\(format) \($0)" } })
        }
        guard let videoIndex = sections.firstIndex(where: { $0.kind == "video" }) else { throw .noVideo }
        self.videoIndex = videoIndex
        (iceUfrag, icePassword, fingerprint) = try document.transport(of: videoIndex)
        let video = document.media[videoIndex]
        // H.264 payload types with packetization-mode=1, in the offer's order of preference.
        var candidates: [(UInt8, String)] = []
        for format in video.formats {
            guard let type = UInt8(format), type < 128, video.rtpmap(format)?.uppercased().hasPrefix("H264/90000") == true else { continue }
            let parameters = video.fmtp(format)
            guard parameters.contains("packetization-mode=1") else { continue }
            candidates.append((type, parameters))
        }
        func offeredProfile(_ parameters: String) -> UInt8? {
            guard let range = parameters.range(of: "profile-level-id=") else { return nil }
            return UInt8(parameters[range.upperBound...].prefix(2), radix: 16)
        }
        guard let chosen = candidates.first(where: { profile != nil && offeredProfile($0.1) == profile }) ?? candidates.first else {
            throw .noH264
        }
        payloadType = chosen.0
        formatParameters = chosen.1
        audio = nil
        for (index, media) in document.media.enumerated() where media.kind == "audio" && media.proto == "UDP/TLS/RTP/SAVPF" {
            guard media.direction == "sendrecv" || media.direction == "recvonly" else { continue }
            if let opus = media.formats.first(where: { media.rtpmap($0)?.lowercased().hasPrefix("opus/48000") == true }).flatMap(UInt8.init) {
                audio = AudioSection(index: index, payloadType: opus)
                break
            }
        }
    }

    /// RFC 8839 §5.4: ice-char is ALPHA / DIGIT / "+" / "/", ufrag 4–256 characters, password 22–256.
    static func isICEString(_ value: String, minimum: Int) -> Bool {
        (minimum...256).contains(value.utf8.count)
            && value.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2B || $0 == 0x2F }
    }
}

/// The SDP answer of an ICE-lite, send-only server (RFC 8829 §5.3, RFC 8445 §2.5): our ICE credentials, our
/// certificate fingerprint and `a=setup:passive` (we are the DTLS server), the host candidates, and in the video
/// section the one H.264 payload type with NACK, PLI and FIR feedback. Other sections get no media.
public struct WHEPAnswer: Sendable {
    public var offer: WHEPOffer
    public var iceUfrag: String
    public var icePassword: String
    public var fingerprint: String
    /// Host candidates: an IP literal and the UDP port.
    public var candidates: [(address: String, port: Int)]
    public var ssrc: UInt32
    public var cname: String
    public var sessionID: UInt64
    /// The SSRC of the Opus stream sent in the offer's audio section; nil answers that section `inactive`.
    public var audioSSRC: UInt32?

    public init(offer: WHEPOffer, iceUfrag: String, icePassword: String, fingerprint: String,
                candidates: [(address: String, port: Int)], ssrc: UInt32, cname: String, sessionID: UInt64,
                audioSSRC: UInt32? = nil) {
        self.audioSSRC = audioSSRC
        self.offer = offer
        self.iceUfrag = iceUfrag
        self.icePassword = icePassword
        self.fingerprint = fingerprint
        self.candidates = candidates
        self.ssrc = ssrc
        self.cname = cname
        self.sessionID = sessionID
    }

    /// Audio and further video sections are answered `inactive` inside the bundle (one transport for all, which every
    /// stack accepts); anything else (a data channel) is rejected with port 0. Each carries the transport attributes,
    /// which some stacks (aiortc) want in every section.
    public var text: String {
        let media = offer.sections.enumerated().filter { $0.element.kind == "audio" || $0.element.kind == "video" }
        var lines = SDPDocument.answerHeader(sessionID: sessionID, bundled: media.compactMap(\.element.mid)) + ["a=msid-semantic: WMS liveloop"]
        let transport = SDPDocument.transportLines(ufrag: iceUfrag, password: icePassword, fingerprint: fingerprint)
        for (index, section) in offer.sections.enumerated() {
            if let audio = offer.audio, index == audio.index, let audioSSRC {
                let type = audio.payloadType
                lines += ["m=audio 9 \(section.proto) \(type)", "c=IN IP4 0.0.0.0"] + transport
                if let mid = section.mid { lines.append("a=mid:\(mid)") }
                lines += [
                    "a=sendonly", "a=rtcp-mux", "a=rtpmap:\(type) opus/48000/2", "a=fmtp:\(type) minptime=10;useinbandfec=1",
                    "a=msid:liveloop audio", "a=ssrc:\(audioSSRC) cname:\(cname)", "a=ssrc:\(audioSSRC) msid:liveloop audio",
                ]
                // The bundle's transport is its first section's (RFC 9143 §7.1): audio may come first.
                lines += SDPDocument.candidateLines(candidates)
                continue
            }
            guard index == offer.videoIndex else {
                let format = section.formats.first ?? "0"
                let carried = section.kind == "audio" || section.kind == "video"
                lines += ["m=\(section.kind) \(carried ? 9 : 0) \(section.proto) \(format)", "c=IN IP4 0.0.0.0"] + transport
                if let mid = section.mid { lines.append("a=mid:\(mid)") }
                lines.append("a=inactive")
                if carried {
                    lines.append("a=rtcp-mux")
                    if let map = section.firstRTPMap { lines.append("a=rtpmap:\(map)") }
                }
                continue
            }
            let type = offer.payloadType
            lines += ["m=video 9 UDP/TLS/RTP/SAVPF \(type)", "c=IN IP4 0.0.0.0"] + transport
            if let mid = section.mid { lines.append("a=mid:\(mid)") }
            lines += [
                "a=sendonly", "a=rtcp-mux", "a=rtcp-rsize",
                "a=rtpmap:\(type) H264/90000",
                "a=fmtp:\(type) \(offer.formatParameters)",
                "a=rtcp-fb:\(type) nack", "a=rtcp-fb:\(type) nack pli", "a=rtcp-fb:\(type) ccm fir",
                "a=msid:liveloop video",
                "a=ssrc:\(ssrc) cname:\(cname)", "a=ssrc:\(ssrc) msid:liveloop video",
            ]
            lines += SDPDocument.candidateLines(candidates)
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
