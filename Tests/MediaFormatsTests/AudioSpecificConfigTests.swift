import MediaFormats
import Testing

@Suite("AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1)")
struct AudioSpecificConfigTests {
    @Test("parses ffmpeg's AAC LC configs, trailing SBR signalling kept verbatim", arguments: [
        (MediaFixtureFiles.aacStereo48k, 48000, 2),
        (MediaFixtureFiles.aacMono44k, 44100, 1),
    ])
    func realConfigs(fixture: String, rate: Int, channels: Int) throws {
        let bytes = try MediaFixtureFiles.bytes(fixture)
        let config = try AudioSpecificConfig(bytes: bytes)
        #expect(config.objectType == 2)
        #expect(config.samplingFrequency == rate)
        #expect(config.channelConfiguration == channels)
        #expect(config.bytes == bytes)
        #expect(config.codecString == "mp4a.40.2")
    }

    @Test("HE-AAC signalled hierarchically keeps object type 5 for its codec string")
    func heAAC() throws {
        // AOT 5, index 6 (24000), stereo, extension index 3 (48000), then AOT 2.
        let config = try AudioSpecificConfig(bytes: [0x2B, 0x11, 0x88, 0x00])
        #expect(config.objectType == 5)
        #expect(config.samplingFrequency == 24000)
        #expect(config.channelConfiguration == 2)
        #expect(config.codecString == "mp4a.40.5")
    }

    @Test("escape values: object type 31 + 6 bits, frequency index 15 + 24-bit rate")
    func escapes() throws {
        // 11111 000010 (AOT 34), 1111 (explicit), 24000 in 24 bits, 0010 (stereo): 43 bits.
        let config = try AudioSpecificConfig(bytes: [0xF8, 0x5E, 0x00, 0xBB, 0x80, 0x40])
        #expect(config.objectType == 34)
        #expect(config.samplingFrequency == 24000)
        #expect(config.channelConfiguration == 2)
    }

    @Test("builds the two-byte config from fields, and five bytes for a rate outside the table")
    func buildFromFields() throws {
        let lc = try AudioSpecificConfig(objectType: 2, samplingFrequency: 44100, channelConfiguration: 2)
        #expect(lc.bytes == [0x12, 0x10])
        let odd = try AudioSpecificConfig(objectType: 2, samplingFrequency: 12345, channelConfiguration: 1)
        #expect(odd.bytes.count == 5)
        #expect(odd.samplingFrequency == 12345)
        #expect(odd.channelConfiguration == 1)
        #expect(throws: MediaFormatError.self) {
            try AudioSpecificConfig(objectType: 0, samplingFrequency: 44100, channelConfiguration: 2)
        }
    }

    @Test("rejects malformed configs", arguments: [
        ([], "empty"),
        ([0x12], "ends inside the frequency index"),
        ([0x00, 0x10], "object type 0"),
        ([0x16, 0x90], "frequency index 13 is reserved"),
        ([0x17, 0x80, 0x00], "explicit frequency cut short"),
        ([0x11, 0xC0], "channel configuration 8 is reserved"),
    ] as [([UInt8], String)])
    func rejectsMalformed(bytes: [UInt8], reason: String) {
        #expect(throws: MediaFormatError.self, "\(reason)") { try AudioSpecificConfig(bytes: bytes) }
    }
}
