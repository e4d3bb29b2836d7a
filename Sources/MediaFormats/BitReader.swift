/// Reads a bit string most-significant bit first, as the H.264 and MPEG-4 Audio syntax tables are written, including the
/// Exp-Golomb codes `ue(v)` and `se(v)` of ITU-T H.264 §9.1.
///
/// Every read checks the remaining length and throws ``MediaFormatError/truncated(_:)`` naming `context` instead of
/// reading past the end, so a malformed parameter set from the network can never trap.
public struct BitReader: Sendable {
    private let bytes: [UInt8]
    /// The position of the next bit to read, counted from the first bit of `bytes`.
    public private(set) var bitOffset: Int
    /// Names the structure being read, for error messages ("H.264 SPS", "AudioSpecificConfig").
    public let context: String

    public init(bytes: [UInt8], context: String) {
        self.bytes = bytes
        self.bitOffset = 0
        self.context = context
    }

    /// Bits not yet read.
    public var bitsLeft: Int { bytes.count * 8 - bitOffset }

    /// Reads one bit, `u(1)`.
    public mutating func readFlag() throws(MediaFormatError) -> Bool {
        try readBits(1) == 1
    }

    /// Reads `count` bits (0...32) as an unsigned number, `u(n)`.
    public mutating func readBits(_ count: Int) throws(MediaFormatError) -> UInt32 {
        guard count >= 0, count <= 32 else { throw .invalid("\(context): read of \(count) bits") }
        guard count <= bitsLeft else { throw .truncated(context) }
        var value: UInt32 = 0
        for _ in 0..<count {
            let byte = bytes[bitOffset >> 3]
            let bit = (byte >> (7 - UInt8(bitOffset & 7))) & 1
            value = (value << 1) | UInt32(bit)
            bitOffset += 1
        }
        return value
    }

    /// Skips `count` bits.
    public mutating func skipBits(_ count: Int) throws(MediaFormatError) {
        guard count >= 0, count <= bitsLeft else { throw .truncated(context) }
        bitOffset += count
    }

    /// Reads an unsigned Exp-Golomb code, `ue(v)` (ITU-T H.264 §9.1): `leadingZeroBits` zeros, a one, then that many
    /// bits; the value is `2^leadingZeroBits − 1 + bits`. Codes longer than 32 leading zeros cannot occur in a valid
    /// stream and are reported as invalid.
    public mutating func readUnsignedExpGolomb() throws(MediaFormatError) -> UInt32 {
        var leadingZeroBits = 0
        while try !readFlag() {
            leadingZeroBits += 1
            guard leadingZeroBits <= 31 else { throw .invalid("\(context): Exp-Golomb code too long") }
        }
        let suffix = try readBits(leadingZeroBits)
        return UInt32((UInt64(1) << UInt64(leadingZeroBits)) - 1 + UInt64(suffix))
    }

    /// Reads a signed Exp-Golomb code, `se(v)` (ITU-T H.264 §9.1.1): code numbers 1, 2, 3, 4… map to 1, −1, 2, −2…
    public mutating func readSignedExpGolomb() throws(MediaFormatError) -> Int32 {
        let codeNum = Int64(try readUnsignedExpGolomb())
        let magnitude = (codeNum + 1) / 2
        return Int32(codeNum % 2 == 1 ? magnitude : -magnitude)
    }

    /// The raw byte sequence payload of a NAL unit: every `emulation_prevention_three_byte` (the 0x03 of a
    /// 0x00 0x00 0x03 sequence) removed, as ITU-T H.264 §7.3.1 / §7.4.1 describe.
    public static func removingEmulationPrevention(_ nalUnit: some Sequence<UInt8>) -> [UInt8] {
        var rbsp: [UInt8] = []
        rbsp.reserveCapacity(nalUnit.underestimatedCount)
        var zeros = 0
        for byte in nalUnit {
            if zeros >= 2 && byte == 0x03 {
                zeros = 0
                continue
            }
            zeros = byte == 0 ? zeros + 1 : 0
            rbsp.append(byte)
        }
        return rbsp
    }
}
