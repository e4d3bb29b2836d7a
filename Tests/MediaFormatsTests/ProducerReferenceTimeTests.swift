import MediaFormats
import NIOCore
import Testing

@Suite("FMP4.producerReferenceTime: prft (ISO/IEC 14496-12 §8.16.5)")
struct ProducerReferenceTimeTests {
    @Test("round-trips a version 1 prft through the reader, flags included", arguments: [UInt32(0), 8, 24])
    func roundTrip(flags: UInt32) throws {
        let ntp = FMP4.ntpTimestamp(unixSeconds: 1_767_225_600.25)
        let prft = FMP4.producerReferenceTime(referenceTrackID: 1, ntpTimestamp: ntp, mediaTime: 8_100_000_000, flags: flags)
        #expect(prft.readableBytes == FMP4.ProducerReferenceTime.size)
        let decoded = try #require(try ISOBMFFReader.boxes(in: prft).first).decodeProducerReferenceTime()
        #expect(decoded == .init(version: 1, flags: flags, referenceTrackID: 1, ntpTimestamp: ntp, mediaTime: 8_100_000_000))
    }

    @Test("the flag values are those of ISO/IEC 14496-12 §8.16.5.3; real time is the bits of 8 and 16")
    func flagValues() {
        typealias PRFT = FMP4.ProducerReferenceTime
        #expect([PRFT.encoderInput, PRFT.encoderOutput, PRFT.fragmentFinalized, PRFT.fragmentWritten, PRFT.consistent] == [0, 1, 2, 4, 8])
        #expect(PRFT.realTime == PRFT.consistent | 16)
    }

    @Test("lays out the version 1 fields: track, 64-bit NTP time, 64-bit media time")
    func exactBytes() {
        let prft = FMP4.producerReferenceTime(
            referenceTrackID: 2, ntpTimestamp: 0x0102_0304_0506_0708, mediaTime: 0x1122_3344_5566_7788, flags: 24)
        let expected: [UInt8] =
            [0, 0, 0, 32, 0x70, 0x72, 0x66, 0x74, 1, 0, 0, 24]
            + [0, 0, 0, 2]
            + [1, 2, 3, 4, 5, 6, 7, 8]
            + [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
        #expect(prft.readableBytesArray == expected)
    }

    @Test("converts Unix seconds to 32.32 NTP time from 1900", arguments: [
        (0.0, UInt64(2_208_988_800) << 32),
        (1.5, UInt64(2_208_988_801) << 32 | 0x8000_0000),
        (1_767_225_600.25, UInt64(3_976_214_400) << 32 | 0x4000_0000),
        (-2_208_988_800.0, 0),
    ])
    func ntpConversion(unixSeconds: Double, expected: UInt64) {
        #expect(FMP4.ntpTimestamp(unixSeconds: unixSeconds) == expected)
    }

    @Test("seconds past 2036 wrap into the next NTP era; nonsense times give 0")
    func edges() {
        let era1 = FMP4.ntpTimestamp(unixSeconds: 2_085_978_496 + 10)  // 2^32 − 2208988800 + 10
        #expect(era1 >> 32 == 10)
        #expect(FMP4.ntpTimestamp(unixSeconds: .nan) == 0)
        #expect(FMP4.ntpTimestamp(unixSeconds: -.infinity) == 0)
        #expect(FMP4.ntpTimestamp(unixSeconds: -3e9) == 0)
    }
}
