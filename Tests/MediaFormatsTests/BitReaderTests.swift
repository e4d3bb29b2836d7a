import MediaFormats
import Testing

@Suite("BitReader: bits and Exp-Golomb codes (H.264 §9.1)")
struct BitReaderTests {
    @Test("reads fixed-width fields most significant bit first across byte boundaries")
    func fixedWidth() throws {
        var reader = BitReader(bytes: [0b1010_1100, 0b0101_0011], context: "test")
        #expect(try reader.readBits(3) == 0b101)
        #expect(try reader.readBits(7) == 0b01_1000_1)
        #expect(try reader.readFlag() == false)
        #expect(try reader.readBits(5) == 0b10011)
        #expect(reader.bitsLeft == 0)
    }

    @Test("decodes the ue(v) table of §9.1: 1, 010, 011, 00100 … give 0, 1, 2, 3 …")
    func unsignedExpGolomb() throws {
        // 1 | 010 | 011 | 00100 | 00111 | 0001000 → 0, 1, 2, 3, 6, 7
        var writer = ExpGolombBitWriter()
        writer.bits(0b1_010_011_00100_00111_0001000, count: 1 + 3 + 3 + 5 + 5 + 7)
        var reader = BitReader(bytes: writer.bytes, context: "test")
        for expected: UInt32 in [0, 1, 2, 3, 6, 7] {
            #expect(try reader.readUnsignedExpGolomb() == expected)
        }
    }

    @Test("se(v) maps code numbers 0, 1, 2, 3, 4 to 0, 1, −1, 2, −2 (§9.1.1)", arguments: [
        (UInt32(0), Int32(0)), (1, 1), (2, -1), (3, 2), (4, -2), (255, 128), (UInt32.max - 1, Int32.min + 1),
    ])
    func signedExpGolomb(codeNum: UInt32, expected: Int32) throws {
        var writer = ExpGolombBitWriter()
        writer.ue(codeNum)
        var reader = BitReader(bytes: writer.bytes, context: "test")
        #expect(try reader.readSignedExpGolomb() == expected)
    }

    @Test("round-trips the largest ue(v) value with 31 leading zeros")
    func largestCode() throws {
        var writer = ExpGolombBitWriter()
        writer.ue(UInt32.max - 1)
        var reader = BitReader(bytes: writer.bytes, context: "test")
        #expect(try reader.readUnsignedExpGolomb() == UInt32.max - 1)
    }

    @Test("a read past the end throws truncated with the reader's context")
    func truncated() {
        var reader = BitReader(bytes: [0xFF], context: "thing")
        #expect(throws: MediaFormatError.truncated("thing")) { try reader.readBits(9) }
        var zeros = BitReader(bytes: [0x00, 0x00], context: "thing")
        #expect(throws: MediaFormatError.truncated("thing")) { try zeros.readUnsignedExpGolomb() }
    }

    @Test("an Exp-Golomb prefix of more than 31 zeros is invalid rather than overflowing")
    func overlongCode() {
        var reader = BitReader(bytes: [0, 0, 0, 0, 0xFF], context: "thing")
        #expect(throws: MediaFormatError.self) { try reader.readUnsignedExpGolomb() }
    }

    @Test("emulation prevention: each 0x03 after two zero bytes is removed, other bytes kept", arguments: [
        ([0x00, 0x00, 0x03, 0x01], [0x00, 0x00, 0x01]),
        ([0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x03], [0x00, 0x00, 0x00, 0x00, 0x03]),
        ([0x00, 0x03, 0x00, 0x03], [0x00, 0x03, 0x00, 0x03]),
        ([0x67, 0x00, 0x00, 0x03], [0x67, 0x00, 0x00]),
        ([], []),
    ] as [([UInt8], [UInt8])])
    func emulationPrevention(input: [UInt8], expected: [UInt8]) {
        #expect(BitReader.removingEmulationPrevention(input) == expected)
    }
}
