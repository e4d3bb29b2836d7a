import Foundation
import NIOCore

/// Real bytes written by ffmpeg, committed under Fixtures/ (see Fixtures/README-media.md for the commands).
enum MediaFixtureFiles {
    static let avcHigh720p = "h264-high-1280x720-30fps.avcC"
    static let avcHigh1080p = "h264-high-1920x1080-25fps.avcC"
    static let avcBaseline240p = "h264-baseline-320x240-24fps.avcC"
    static let aacStereo48k = "aac-lc-48000-stereo.asc"
    static let aacMono44k = "aac-lc-44100-mono.asc"
    static let flv360p = "h264-aac-640x360-2s.flv"

    struct Missing: Error, CustomStringConvertible {
        var name: String
        var description: String { "fixture \(name) not found in the test bundle" }
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures") else {
            throw Missing(name: name)
        }
        return [UInt8](try Data(contentsOf: url))
    }
}

/// Writes bit strings MSB first with Exp-Golomb codes, to hand-build H.264 parameter sets from the spec's syntax.
struct ExpGolombBitWriter {
    private(set) var bytes: [UInt8] = []
    private var bitCount = 0

    mutating func bit(_ value: Bool) {
        if bitCount % 8 == 0 { bytes.append(0) }
        if value { bytes[bytes.count - 1] |= 0x80 >> UInt8(bitCount % 8) }
        bitCount += 1
    }

    mutating func bits(_ value: UInt64, count: Int) {
        for index in stride(from: count - 1, through: 0, by: -1) {
            bit((value >> UInt64(index)) & 1 == 1)
        }
    }

    mutating func ue(_ value: UInt32) {
        let codeNum = UInt64(value) + 1
        let length = 64 - codeNum.leadingZeroBitCount
        bits(0, count: length - 1)
        bits(codeNum, count: length)
    }

    mutating func se(_ value: Int32) {
        ue(value > 0 ? UInt32(2 * Int64(value) - 1) : UInt32(-2 * Int64(value)))
    }

    /// `rbsp_trailing_bits()`: a one, then zeros to the byte boundary.
    mutating func trailingBits() {
        bit(true)
        while bitCount % 8 != 0 { bit(false) }
    }

    /// The RBSP with emulation prevention bytes inserted (H.264 §7.4.1), prefixed by `header`: a NAL unit.
    func nalUnit(header: UInt8) -> [UInt8] {
        var nal: [UInt8] = [header]
        var zeros = 0
        for byte in bytes {
            if zeros >= 2 && byte <= 3 {
                nal.append(3)
                zeros = 0
            }
            nal.append(byte)
            zeros = byte == 0 ? zeros + 1 : 0
        }
        return nal
    }
}

extension ByteBuffer {
    /// All readable bytes, for comparisons in tests.
    var readableBytesArray: [UInt8] { getBytes(at: readerIndex, length: readableBytes) ?? [] }
}
