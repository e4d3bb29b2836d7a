import Foundation

/// An SDP document (RFC 8866) cut into its session attributes and media sections, each with its own attributes:
/// the little that an offer reader needs, with the transport checks WHEP and WHIP share.
struct SDPDocument {
    struct Media {
        var kind: String
        var proto: String
        var formats: [String]
        var attributes: [(name: String, value: String)]

        func attribute(_ name: String) -> String? { attributes.first { $0.name == name }?.value }
        var mid: String? { attribute("mid") }
        /// `sendrecv` when none is given (RFC 8866 §6.7).
        var direction: String {
            attributes.first { ["sendrecv", "recvonly", "sendonly", "inactive"].contains($0.name) }?.name ?? "sendrecv"
        }

        /// The `a=rtpmap` value of payload type `type` without the type (`H264/90000`), if any.
        func rtpmap(_ type: String) -> String? {
            attributes.first { $0.name == "rtpmap" && $0.value.hasPrefix("\(type) ") }.map { String($0.value.dropFirst(type.count + 1)) }
        }

        /// The `a=fmtp` parameters of payload type `type`, "" when none are given.
        func fmtp(_ type: String) -> String {
            attributes.first { $0.name == "fmtp" && $0.value.hasPrefix("\(type) ") }.map { String($0.value.dropFirst(type.count + 1)) } ?? ""
        }
    }

    var session: [(name: String, value: String)] = []
    var media: [Media] = []

    init(parsing text: String, limit: Int) throws(SDPError) {
        guard text.utf8.count <= limit else { throw .tooLarge(limit: limit) }
        let lines = text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline)
        guard lines.first == "v=0" else { throw .notSDP }
        for line in lines {
            guard line.count >= 2, line.dropFirst().first == "=" else { throw .notSDP }
            let value = line.dropFirst(2)
            switch line.first {
            case "m":
                let fields = value.split(separator: " ").map(String.init)
                media.append(Media(kind: fields.first ?? "", proto: fields.count > 2 ? fields[2] : "",
                                   formats: Array(fields.dropFirst(3)), attributes: []))
            case "a":
                let attribute: (String, String)
                if let colon = value.firstIndex(of: ":") {
                    attribute = (String(value[..<colon]), String(value[value.index(after: colon)...]))
                } else {
                    attribute = (String(value), "")
                }
                if media.isEmpty { session.append(attribute) } else { media[media.count - 1].attributes.append(attribute) }
            default: continue
            }
        }
    }

    /// The session part of an ICE-lite answer, with the bundle of `bundled` mids.
    static func answerHeader(sessionID: UInt64, bundled: [String]) -> [String] {
        ["v=0", "o=- \(sessionID) 1 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=ice-lite"]
            + (bundled.isEmpty ? [] : ["a=group:BUNDLE \(bundled.joined(separator: " "))"])
    }

    /// Our ICE credentials and certificate, as the DTLS server (`a=setup:passive`): in every answered section.
    static func transportLines(ufrag: String, password: String, fingerprint: String) -> [String] {
        ["a=ice-ufrag:\(ufrag)", "a=ice-pwd:\(password)", "a=ice-options:ice2", "a=fingerprint:sha-256 \(fingerprint)", "a=setup:passive"]
    }

    /// Host candidates on one UDP port (RFC 8445 §5.1.2: type preference 126, one component), then the end.
    static func candidateLines(_ candidates: [(address: String, port: Int)]) -> [String] {
        candidates.enumerated().map { number, candidate in
            let family = candidate.address.contains(":") ? 1 : 2
            let priority = (126 << 24) | ((65_535 - number * 256 - family) << 8) | 255
            return "a=candidate:\(number + 1) 1 udp \(priority) \(candidate.address) \(candidate.port) typ host"
        } + ["a=end-of-candidates"]
    }

    /// The peer's ICE credentials, certificate fingerprint, checked as RFC 8839 §5.4 and RFC 8122 §5 say, for the
    /// section at `index` (its own attributes first, then the session's); the peer must let us be the DTLS server.
    func transport(of index: Int) throws(SDPError) -> (ufrag: String, password: String, fingerprint: String) {
        let attributes = media[index].attributes
        func first(_ name: String) -> String? {
            attributes.first { $0.name == name }?.value ?? session.first { $0.name == name }?.value
        }
        guard media[index].proto == "UDP/TLS/RTP/SAVPF" else { throw .unsupportedTransport(media[index].proto) }
        guard let ufrag = first("ice-ufrag"), let password = first("ice-pwd") else { throw .missingICECredentials }
        guard WHEPOffer.isICEString(ufrag, minimum: 4), WHEPOffer.isICEString(password, minimum: 22) else { throw .badICECredentials }
        let fingerprints = (attributes + session).filter { $0.name == "fingerprint" }.map(\.value)
        guard let sha256 = fingerprints.first(where: { $0.lowercased().hasPrefix("sha-256 ") }) else { throw .missingFingerprint }
        let fingerprint = String(sha256.dropFirst("sha-256 ".count)).trimmingSpaces.uppercased()
        guard fingerprint.split(separator: ":").count == 32 else { throw .missingFingerprint }
        let setup = first("setup") ?? "actpass"
        guard setup == "actpass" || setup == "active" else { throw .unsupportedSetup(setup) }
        return (ufrag, password, fingerprint)
    }
}

/// A WHIP publisher's SDP offer (RFC 9725 §4.2, JSEP RFC 8829), read for what an ICE-lite, receive-only server
/// answers: the peer's ICE credentials and fingerprint, the video section it sends on with the codec we take (H.264
/// with packetization-mode=1, passed through; else VP8, which the server transcodes), the audio section with Opus,
/// and every other section, which the answer rejects.
public struct WHIPOffer: Sendable, Equatable {
    public enum VideoCodec: String, Sendable, Equatable {
        case h264 = "H264"
        case vp8 = "VP8"
    }

    public struct Track: Sendable, Equatable {
        /// Index of the m-section.
        public var index: Int
        public var payloadType: UInt8
        /// `H264/90000`, `VP8/90000`, `opus/48000/2`: as the offer wrote it.
        public var rtpmap: String
        public var formatParameters: String
    }

    public struct Section: Sendable, Equatable {
        public var kind: String
        public var proto: String
        public var firstFormat: String
        public var mid: String?
    }

    public var iceUfrag: String
    public var icePassword: String
    public var fingerprint: String
    public var sections: [Section]
    public var video: Track
    public var videoCodec: VideoCodec
    public var audio: Track?

    public static let maximumBytes = WHEPOffer.maximumBytes

    /// Reads an offer; `preferring` picks the codec when the offer has both (H.264 by default: no transcoding).
    public init(parsing text: String, preferring preferred: VideoCodec = .h264) throws(SDPError) {
        let document = try SDPDocument(parsing: text, limit: Self.maximumBytes)
        sections = document.media.map { Section(kind: $0.kind, proto: $0.proto, firstFormat: $0.formats.first ?? "0", mid: $0.mid) }
        let sending = { (media: SDPDocument.Media) in media.direction == "sendonly" || media.direction == "sendrecv" }
        guard let videoIndex = document.media.firstIndex(where: { $0.kind == "video" && sending($0) }) else { throw .noVideoToReceive }
        (iceUfrag, icePassword, fingerprint) = try document.transport(of: videoIndex)
        let section = document.media[videoIndex]
        var choices: [(VideoCodec, Track)] = []
        for format in section.formats {
            guard let type = UInt8(format), type < 128, let map = section.rtpmap(format) else { continue }
            let parameters = section.fmtp(format)
            let name = map.uppercased()
            if name.hasPrefix("H264/90000"), parameters.contains("packetization-mode=1") {
                choices.append((.h264, Track(index: videoIndex, payloadType: type, rtpmap: map, formatParameters: parameters)))
            } else if name.hasPrefix("VP8/90000") {
                choices.append((.vp8, Track(index: videoIndex, payloadType: type, rtpmap: map, formatParameters: parameters)))
            }
        }
        guard let chosen = choices.first(where: { $0.0 == preferred }) ?? choices.first else { throw .noPublishableVideo }
        (videoCodec, video) = chosen
        audio = nil
        for (index, media) in document.media.enumerated() where media.kind == "audio" && media.proto == "UDP/TLS/RTP/SAVPF" && sending(media) {
            if let format = media.formats.first(where: { media.rtpmap($0)?.lowercased().hasPrefix("opus/48000") == true }),
               let type = UInt8(format), type < 128, type != video.payloadType, let map = media.rtpmap(format) {
                audio = Track(index: index, payloadType: type, rtpmap: map, formatParameters: media.fmtp(format))
                break
            }
        }
    }
}

/// The SDP answer of an ICE-lite, receive-only server to a WHIP offer: our ICE credentials and fingerprint,
/// `a=setup:passive`, the host candidates, and per taken section its one codec, received (`recvonly`) with PLI, FIR
/// and REMB feedback. Other sections are answered `inactive` (audio/video in the bundle) or rejected (port 0).
public struct WHIPAnswer: Sendable {
    public var offer: WHIPOffer
    public var iceUfrag: String
    public var icePassword: String
    public var fingerprint: String
    public var candidates: [(address: String, port: Int)]
    public var sessionID: UInt64

    public init(offer: WHIPOffer, iceUfrag: String, icePassword: String, fingerprint: String,
                candidates: [(address: String, port: Int)], sessionID: UInt64) {
        self.offer = offer
        self.iceUfrag = iceUfrag
        self.icePassword = icePassword
        self.fingerprint = fingerprint
        self.candidates = candidates
        self.sessionID = sessionID
    }

    public var text: String {
        let bundled = offer.sections.filter { $0.kind == "audio" || $0.kind == "video" }.compactMap(\.mid)
        var lines = SDPDocument.answerHeader(sessionID: sessionID, bundled: bundled) + ["a=msid-semantic: WMS"]
        let transport = SDPDocument.transportLines(ufrag: iceUfrag, password: icePassword, fingerprint: fingerprint)
        for (index, section) in offer.sections.enumerated() {
            let track = index == offer.video.index ? offer.video : offer.audio.flatMap { $0.index == index ? $0 : nil }
            guard let track else {
                let carried = section.kind == "audio" || section.kind == "video"
                lines += ["m=\(section.kind) \(carried ? 9 : 0) \(section.proto) \(section.firstFormat)", "c=IN IP4 0.0.0.0"] + transport
                if let mid = section.mid { lines.append("a=mid:\(mid)") }
                lines.append("a=inactive")
                if carried { lines.append("a=rtcp-mux") }
                continue
            }
            let type = track.payloadType
            lines += ["m=\(section.kind) 9 UDP/TLS/RTP/SAVPF \(type)", "c=IN IP4 0.0.0.0"] + transport
            if let mid = section.mid { lines.append("a=mid:\(mid)") }
            lines += ["a=recvonly", "a=rtcp-mux", "a=rtcp-rsize", "a=rtpmap:\(type) \(track.rtpmap)"]
            if !track.formatParameters.isEmpty { lines.append("a=fmtp:\(type) \(track.formatParameters)") }
            if index == offer.video.index {
                lines += ["a=rtcp-fb:\(type) nack pli", "a=rtcp-fb:\(type) ccm fir", "a=rtcp-fb:\(type) goog-remb"]
            }
            // In every taken section: the bundle's transport is the first one's (RFC 9143 §7.1), whichever that is.
            lines += SDPDocument.candidateLines(candidates)
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
