import Foundation

/// The RTCP we write and read (RFC 3550 §6, RFC 4585 §6): sender reports with a CNAME, and from the viewer
/// receiver reports, generic NACKs, picture loss indications, full intra requests and BYE.
public enum RTCP {
    /// What a viewer's compound RTCP packet asks or says.
    public enum Feedback: Sendable, Equatable {
        /// Sequence numbers it lost (RFC 4585 §6.2.1).
        case nack([UInt16])
        /// Picture loss indication (RFC 4585 §6.3.1) or full intra request (RFC 5104 §4.3.1): it wants a keyframe.
        case pictureLoss
        case fullIntraRequest
        /// A receiver report: the peer is alive.
        case receiverReport
        case bye
    }

    static let senderReport: UInt8 = 200
    static let receiverReportType: UInt8 = 201
    static let sourceDescription: UInt8 = 202
    static let goodbye: UInt8 = 203
    static let transportFeedback: UInt8 = 205
    static let payloadFeedback: UInt8 = 206

    /// RFC 5761 §4: with RTP and RTCP on one port, a second byte of 192–223 marks RTCP (payload types 64–95).
    public static func isRTCP(_ packet: [UInt8]) -> Bool {
        packet.count >= 8 && packet[0] >> 6 == 2 && (192...223).contains(packet[1])
    }

    /// NTP time (seconds since 1900 in 32.32 fixed point) of a date.
    public static func ntpTimestamp(_ date: Date) -> UInt64 {
        let seconds = date.timeIntervalSince1970 + 2_208_988_800
        let whole = UInt64(max(seconds, 0))
        let fraction = UInt64((seconds - Double(whole)) * 4_294_967_296)
        return whole << 32 | min(fraction, 0xFFFF_FFFF)
    }

    /// A compound packet: a sender report (§6.4.1) stating that `rtpTimestamp` is the media at wall-clock `ntp`,
    /// followed by an SDES with our CNAME (§6.5, every compound packet must carry one).
    public static func senderReport(
        ssrc: UInt32, ntp: UInt64, rtpTimestamp: UInt32, packets: UInt32, octets: UInt32, cname: String
    ) -> [UInt8] {
        var bytes: [UInt8] = [0x80, senderReport, 0, 6]
        appendBigEndian(ssrc, to: &bytes)
        appendBigEndian(UInt32(ntp >> 32), to: &bytes)
        appendBigEndian(UInt32(ntp & 0xFFFF_FFFF), to: &bytes)
        appendBigEndian(rtpTimestamp, to: &bytes)
        appendBigEndian(packets, to: &bytes)
        appendBigEndian(octets, to: &bytes)
        let name = Array(cname.utf8.prefix(255))
        // SSRC, CNAME item (type 1, length, text), then a zero type ending the list, padded to 32 bits.
        var chunk: [UInt8] = []
        appendBigEndian(ssrc, to: &chunk)
        chunk += [1, UInt8(name.count)] + name + [0]
        while chunk.count % 4 != 0 { chunk.append(0) }
        let words = chunk.count / 4
        bytes += [0x81, sourceDescription, UInt8(words >> 8), UInt8(words & 0xFF)] + chunk
        return bytes
    }

    /// A BYE (§6.6) for our streams.
    public static func bye(sources: [UInt32]) -> [UInt8] {
        var bytes: [UInt8] = [0x80 | UInt8(sources.count & 0x1F), goodbye, 0, UInt8(sources.count & 0x1F)]
        for source in sources.prefix(31) { appendBigEndian(source, to: &bytes) }
        return bytes
    }

    /// A picture loss indication (RFC 4585 §6.3.1): asks the sender of `media` for a keyframe.
    public static func pictureLossIndication(sender: UInt32, media: UInt32) -> [UInt8] {
        var bytes: [UInt8] = [0x81, payloadFeedback, 0, 2]
        appendBigEndian(sender, to: &bytes)
        appendBigEndian(media, to: &bytes)
        return bytes
    }

    /// A receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb §2.2): tells a browser it may send up to
    /// `bitrate` bits per second on `sources`, which it needs to ramp up from its start rate without transport-cc.
    public static func estimatedBitrate(sender: UInt32, bitrate: UInt64, sources: [UInt32]) -> [UInt8] {
        var exponent: UInt64 = 0
        var mantissa = bitrate
        while mantissa > 0x3FFFF {
            mantissa >>= 1
            exponent += 1
        }
        let sources = Array(sources.prefix(255))
        var bytes: [UInt8] = [0x8F, payloadFeedback, 0, UInt8(4 + sources.count)]
        appendBigEndian(sender, to: &bytes)
        appendBigEndian(0, to: &bytes)
        bytes += Array("REMB".utf8)
        bytes.append(UInt8(sources.count))
        bytes.append(UInt8(exponent << 2 | mantissa >> 16))
        bytes.append(UInt8(mantissa >> 8 & 0xFF))
        bytes.append(UInt8(mantissa & 0xFF))
        for source in sources { appendBigEndian(source, to: &bytes) }
        return bytes
    }

    /// The sender SSRC of a compound packet's first report (bytes 4–7), which names the stream it is about.
    public static func senderSSRC(_ packet: [UInt8]) -> UInt32? {
        packet.count >= 8 ? readBigEndian32(packet, at: 4) : nil
    }

    /// Reads a compound packet, skipping what we do not use; a malformed length stops the walk (what came before
    /// counts). Feedback for other SSRCs than `mediaSSRC` is ignored.
    public static func parse(_ packet: [UInt8], mediaSSRC: UInt32) -> [Feedback] {
        var feedback: [Feedback] = []
        var offset = 0
        while offset + 4 <= packet.count {
            guard packet[offset] >> 6 == 2 else { break }
            let count = packet[offset] & 0x1F
            let type = packet[offset + 1]
            let length = ((Int(packet[offset + 2]) << 8 | Int(packet[offset + 3])) + 1) * 4
            guard offset + length <= packet.count else { break }
            let body = Array(packet[offset..<offset + length])
            offset += length
            switch type {
            case receiverReportType, senderReport:
                feedback.append(.receiverReport)
            case goodbye:
                feedback.append(.bye)
            case transportFeedback where count == 1 && body.count >= 16:
                guard readBigEndian32(body, at: 8) == mediaSSRC else { continue }
                var lost: [UInt16] = []
                var index = 12
                while index + 4 <= body.count {
                    let pid = UInt16(body[index]) << 8 | UInt16(body[index + 1])
                    let blp = UInt16(body[index + 2]) << 8 | UInt16(body[index + 3])
                    lost.append(pid)
                    for bit in 0..<16 where blp & (1 << bit) != 0 { lost.append(pid &+ UInt16(bit + 1)) }
                    index += 4
                }
                feedback.append(.nack(lost))
            case payloadFeedback where count == 1 && body.count >= 12:
                guard readBigEndian32(body, at: 8) == mediaSSRC else { continue }
                feedback.append(.pictureLoss)
            case payloadFeedback where count == 4 && body.count >= 20:
                // FIR names the media source in its FCI (RFC 5104 §4.3.1.1), the header's media SSRC is unused.
                guard readBigEndian32(body, at: 12) == mediaSSRC else { continue }
                feedback.append(.fullIntraRequest)
            default:
                continue
            }
        }
        return feedback
    }
}
