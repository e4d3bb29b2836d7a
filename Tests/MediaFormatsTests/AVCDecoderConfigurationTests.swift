import MediaFormats
import Testing

@Suite("AVCDecoderConfiguration: avcC records (ISO/IEC 14496-15 §5.3.3.1)")
struct AVCDecoderConfigurationTests {
    @Test("parses x264's High profile record: one SPS, one PPS, 4-byte lengths, codec string avc1.64001F")
    func realRecord() throws {
        let bytes = try MediaFixtureFiles.bytes(MediaFixtureFiles.avcHigh720p)
        let configuration = try AVCDecoderConfiguration(record: bytes)
        #expect(configuration.profileIndication == 100)
        #expect(configuration.profileCompatibility == 0)
        #expect(configuration.levelIndication == 31)
        #expect(configuration.nalUnitLengthSize == 4)
        #expect(configuration.sequenceParameterSets.count == 1)
        #expect(configuration.pictureParameterSets.count == 1)
        #expect(configuration.sequenceParameterSets[0].first == 0x67)
        #expect(configuration.pictureParameterSets[0].first == 0x68)
        #expect(configuration.record == bytes)
        #expect(configuration.codecString == "avc1.64001F")
    }

    @Test("codec strings of the other fixtures", arguments: [
        (MediaFixtureFiles.avcHigh1080p, "avc1.640028"),
        (MediaFixtureFiles.avcBaseline240p, "avc1.42C00D"),
    ])
    func codecStrings(fixture: String, expected: String) throws {
        let configuration = try AVCDecoderConfiguration(record: MediaFixtureFiles.bytes(fixture))
        #expect(configuration.codecString == expected)
    }

    @Test("reads several parameter sets and a 2-byte NAL length size")
    func handBuilt() throws {
        let sps1: [UInt8] = [0x67, 0x4D, 0x40, 0x1E, 0x01]
        let sps2: [UInt8] = [0x67, 0x4D, 0x40, 0x1E, 0x02, 0x03]
        let pps: [UInt8] = [0x68, 0xCE]
        let record: [UInt8] = [1, 0x4D, 0x40, 0x1E, 0xFC | 1, 0xE0 | 2, 0, 5] + sps1 + [0, 6] + sps2 + [1, 0, 2] + pps
        let configuration = try AVCDecoderConfiguration(record: record)
        #expect(configuration.nalUnitLengthSize == 2)
        #expect(configuration.sequenceParameterSets == [sps1, sps2])
        #expect(configuration.pictureParameterSets == [pps])
        #expect(configuration.codecString == "avc1.4D401E")
    }

    @Test("rejects malformed records", arguments: [
        ([], "empty"),
        ([1, 0x64, 0, 0x1F, 0xFF, 0xE1], "ends before the SPS length"),
        ([0, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 1, 0x67, 1, 0, 1, 0x68], "configurationVersion 0"),
        ([1, 0x64, 0, 0x1F, 0xFE, 0xE1, 0, 1, 0x67, 1, 0, 1, 0x68], "lengthSizeMinusOne 2"),
        ([1, 0x64, 0, 0x1F, 0xFF, 0xE0, 0], "no SPS"),
        ([1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 9, 0x67, 1], "SPS longer than the record"),
        ([1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 1, 0x67], "ends before the PPS count"),
        ([1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 1, 0x67, 2, 0, 1, 0x68], "second PPS missing"),
    ] as [([UInt8], String)])
    func rejectsMalformed(record: [UInt8], reason: String) {
        #expect(throws: MediaFormatError.self, "\(reason)") { try AVCDecoderConfiguration(record: record) }
    }

    @Test("every truncation of a real record throws rather than trapping")
    func truncations() throws {
        let bytes = try MediaFixtureFiles.bytes(MediaFixtureFiles.avcHigh720p)
        for length in 0..<(bytes.count - 4) {  // the last four bytes are the optional High profile extension
            let prefix = Array(bytes.prefix(length))
            #expect(throws: MediaFormatError.self) { try AVCDecoderConfiguration(record: prefix) }
        }
    }
}
