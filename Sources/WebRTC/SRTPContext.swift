import Crypto
import CryptoExtras
import Foundation

/// Why an SRTCP packet was refused.
public enum SRTPError: Error, Sendable, Equatable {
    case tooShort
    case authenticationFailed
    case replayed
}

/// SRTP and SRTCP with AES-128 in counter mode and a 80-bit HMAC-SHA1 tag (`SRTP_AES128_CM_SHA1_80`, RFC 3711 and
/// RFC 5764 §4.1.2), one direction: the session keys derived from one master key and salt (§4.3.1, key derivation
/// rate 0), protecting what we send or checking what the peer sends.
///
/// The packet index is passed in: the sender knows its own rollover counter, so nothing here guesses one (§3.3.1).
public struct SRTPContext: Sendable {
    public static let tagLength = 10

    let rtpKey: SymmetricKey
    let rtpSalt: [UInt8]
    let rtpAuth: SymmetricKey
    let rtcpKey: SymmetricKey
    let rtcpSalt: [UInt8]
    let rtcpAuth: SymmetricKey
    /// SRTCP indices seen per sending SSRC (each keeps its own index, as libsrtp's streams do), for replay
    /// protection (§3.3.2): the highest and a 64-wide window below it.
    private var rtcpStreams: [UInt32: (highest: UInt32, window: UInt64)] = [:]
    /// Per SSRC received: the rollover counter, the highest sequence number and the replay window below it.
    private var rtpStreams: [UInt32: (roc: UInt32, highest: UInt16, window: UInt64)] = [:]
    /// The most SSRCs a peer may send us (a publisher sends two: video and audio); more are refused.
    public static let maximumReceivedStreams = 8

    public init(masterKey: [UInt8], masterSalt: [UInt8]) {
        func derive(_ label: UInt8, _ count: Int) -> [UInt8] {
            // x = key_id XOR master_salt, key_id = label || r with r = 0 (§4.3.1); the PRF is AES-CM from x·2^16.
            var iv = masterSalt + [0, 0]
            iv[7] ^= label
            return Self.keystream(key: SymmetricKey(data: masterKey), iv: iv, count: count)
        }
        rtpKey = SymmetricKey(data: derive(0x00, 16))
        rtpAuth = SymmetricKey(data: derive(0x01, 20))
        rtpSalt = derive(0x02, 14)
        rtcpKey = SymmetricKey(data: derive(0x03, 16))
        rtcpAuth = SymmetricKey(data: derive(0x04, 20))
        rtcpSalt = derive(0x05, 14)
    }

    /// AES-CM keystream (§4.1.1): AES of the IV, IV+1, … .
    static func keystream(key: SymmetricKey, iv: [UInt8], count: Int) -> [UInt8] {
        xor([UInt8](repeating: 0, count: count), key: key, iv: iv)
    }

    private static func xor(_ bytes: some DataProtocol, key: SymmetricKey, iv: [UInt8]) -> [UInt8] {
        // Both can fail only on a wrong key or nonce size, which the types here rule out.
        guard let nonce = try? AES._CTR.Nonce(nonceBytes: iv),
              let result = try? AES._CTR.encrypt(bytes, using: key, nonce: nonce) else { return Array(bytes) }
        return Array(result)
    }

    /// IV = (k_s · 2^16) ⊕ (SSRC · 2^64) ⊕ (i · 2^16) (§4.1.1), `index` being the 48-bit packet index or SRTCP index.
    private static func iv(salt: [UInt8], ssrc: UInt32, index: UInt64) -> [UInt8] {
        var iv = salt + [0, 0]
        for shift in 0..<4 { iv[4 + shift] ^= UInt8(truncatingIfNeeded: ssrc >> (24 - 8 * shift)) }
        for shift in 0..<6 { iv[8 + shift] ^= UInt8(truncatingIfNeeded: index >> (40 - 8 * shift)) }
        return iv
    }

    private static func tag(_ key: SymmetricKey, _ parts: [UInt8]...) -> [UInt8] {
        var hmac = HMAC<Insecure.SHA1>(key: key)
        for part in parts { hmac.update(data: part) }
        return Array(Array(hmac.finalize()).prefix(tagLength))
    }

    /// Protects an RTP packet whose header is `headerLength` bytes, with packet index `index` = ROC · 2^16 + SEQ.
    public func protectRTP(_ packet: [UInt8], headerLength: Int, index: UInt64) -> [UInt8] {
        guard packet.count >= 12, headerLength <= packet.count else { return packet }
        let ssrc = UInt32(packet[8]) << 24 | UInt32(packet[9]) << 16 | UInt32(packet[10]) << 8 | UInt32(packet[11])
        var out = Array(packet[0..<headerLength])
        out += Self.xor(packet[headerLength...], key: rtpKey, iv: Self.iv(salt: rtpSalt, ssrc: ssrc, index: index))
        let roc = UInt32(truncatingIfNeeded: index >> 16)
        out += Self.tag(rtpAuth, out, [UInt8(roc >> 24), UInt8(roc >> 16 & 0xFF), UInt8(roc >> 8 & 0xFF), UInt8(roc & 0xFF)])
        return out
    }

    /// Protects an RTCP compound packet with SRTCP index `index` (31 bits, one more for each packet sent), encrypted.
    public func protectRTCP(_ packet: [UInt8], index: UInt32) -> [UInt8] {
        guard packet.count >= 8 else { return packet }
        let ssrc = UInt32(packet[4]) << 24 | UInt32(packet[5]) << 16 | UInt32(packet[6]) << 8 | UInt32(packet[7])
        let index = index & 0x7FFF_FFFF
        var out = Array(packet[0..<8])
        out += Self.xor(packet[8...], key: rtcpKey, iv: Self.iv(salt: rtcpSalt, ssrc: ssrc, index: UInt64(index)))
        let eIndex = index | 0x8000_0000
        out += [UInt8(eIndex >> 24), UInt8(eIndex >> 16 & 0xFF), UInt8(eIndex >> 8 & 0xFF), UInt8(eIndex & 0xFF)]
        out += Self.tag(rtcpAuth, out)
        return out
    }

    /// Checks and decrypts an SRTCP packet from the peer (§3.4). A forged, damaged or replayed packet throws and
    /// changes nothing.
    public mutating func unprotectRTCP(_ packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        guard packet.count >= 8 + 4 + Self.tagLength else { throw .tooShort }
        let tagStart = packet.count - Self.tagLength
        let expected = Self.tag(rtcpAuth, Array(packet[0..<tagStart]))
        guard zip(expected, packet[tagStart...]).reduce(UInt8(0), { $0 | ($1.0 ^ $1.1) }) == 0 else { throw .authenticationFailed }
        let indexStart = tagStart - 4
        let eIndex = UInt32(packet[indexStart]) << 24 | UInt32(packet[indexStart + 1]) << 16
            | UInt32(packet[indexStart + 2]) << 8 | UInt32(packet[indexStart + 3])
        let index = eIndex & 0x7FFF_FFFF
        let ssrc = UInt32(packet[4]) << 24 | UInt32(packet[5]) << 16 | UInt32(packet[6]) << 8 | UInt32(packet[7])
        guard acceptRTCP(index: index, ssrc: ssrc) else { throw .replayed }
        guard eIndex & 0x8000_0000 != 0 else { return Array(packet[0..<indexStart]) }
        return Array(packet[0..<8])
            + Self.xor(packet[8..<indexStart], key: rtcpKey, iv: Self.iv(salt: rtcpSalt, ssrc: ssrc, index: UInt64(index)))
    }

    /// Checks and decrypts an SRTP packet from the peer (§3.3): the packet index is estimated from the sequence
    /// number and the stream's rollover counter (appendix A), the tag checked over the packet and that ROC, then the
    /// payload after the header (with its CSRCs and extension) decrypted. A forged, damaged or replayed packet, or
    /// one from an SSRC past ``maximumReceivedStreams``, throws and changes nothing.
    public mutating func unprotectRTP(_ packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        guard packet.count >= 12 + Self.tagLength, let headerLength = Self.rtpHeaderLength(packet),
              headerLength <= packet.count - Self.tagLength else { throw .tooShort }
        let ssrc = readBigEndian32(packet, at: 8)
        let sequence = UInt16(packet[2]) << 8 | UInt16(packet[3])
        let stream = rtpStreams[ssrc]
        guard stream != nil || rtpStreams.count < Self.maximumReceivedStreams else { throw .authenticationFailed }
        // Appendix A: the ROC the sender most likely used, given the highest sequence number seen so far.
        var roc = stream?.roc ?? 0
        if let stream {
            let highest = stream.highest
            if highest < 32768 {
                if sequence > highest, sequence - highest > 32768 { roc = stream.roc &- 1 }
            } else if sequence < highest - 32768 {
                roc = stream.roc &+ 1
            }
        }
        let tagStart = packet.count - Self.tagLength
        let expected = Self.tag(rtpAuth, Array(packet[0..<tagStart]),
                                [UInt8(roc >> 24), UInt8(roc >> 16 & 0xFF), UInt8(roc >> 8 & 0xFF), UInt8(roc & 0xFF)])
        guard zip(expected, packet[tagStart...]).reduce(UInt8(0), { $0 | ($1.0 ^ $1.1) }) == 0 else { throw .authenticationFailed }
        let index = UInt64(roc) << 16 | UInt64(sequence)
        // The replay window (§3.3.2) over 48-bit indices.
        if let stream {
            let highestIndex = UInt64(stream.roc) << 16 | UInt64(stream.highest)
            if index > highestIndex {
                let shift = index - highestIndex
                rtpStreams[ssrc] = (roc, sequence, shift >= 64 ? 1 : (stream.window << shift) | 1)
            } else {
                let back = highestIndex - index
                guard back < 64, stream.window & (1 << back) == 0 else { throw .replayed }
                rtpStreams[ssrc]?.window |= 1 << back
            }
        } else {
            rtpStreams[ssrc] = (roc, sequence, 1)
        }
        return Array(packet[0..<headerLength])
            + Self.xor(packet[headerLength..<tagStart], key: rtpKey, iv: Self.iv(salt: rtpSalt, ssrc: ssrc, index: index))
    }

    /// The length of an RTP header with its CSRC list and header extension (RFC 3550 §5.1, §5.3.1); nil when the
    /// packet is shorter than its header says.
    static func rtpHeaderLength(_ packet: [UInt8]) -> Int? {
        guard packet.count >= 12 else { return nil }
        var length = 12 + 4 * Int(packet[0] & 0x0F)
        if packet[0] & 0x10 != 0 {
            guard packet.count >= length + 4 else { return nil }
            length += 4 + 4 * (Int(packet[length + 2]) << 8 | Int(packet[length + 3]))
        }
        return packet.count >= length ? length : nil
    }

    /// The replay window (§3.3.2) of `ssrc`'s SRTCP: an index above the highest moves it; one inside it is accepted
    /// once. A new SSRC past ``maximumReceivedStreams`` is refused.
    private mutating func acceptRTCP(index: UInt32, ssrc: UInt32) -> Bool {
        guard let (highest, window) = rtcpStreams[ssrc] else {
            guard rtcpStreams.count < Self.maximumReceivedStreams else { return false }
            rtcpStreams[ssrc] = (index, 1)
            return true
        }
        if index > highest {
            let shift = index - highest
            rtcpStreams[ssrc] = (index, shift >= 64 ? 1 : (window << UInt64(shift)) | 1)
            return true
        }
        let back = highest - index
        guard back < 64 else { return false }
        let bit = UInt64(1) << UInt64(back)
        guard window & bit == 0 else { return false }
        rtcpStreams[ssrc] = (highest, window | bit)
        return true
    }
}
