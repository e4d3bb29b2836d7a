import MediaFormats
import NIOCore
import Testing

@Suite("FMP4.producerReferenceTime: prft (ISO/IEC 14496-12 §8.16.5)")
struct ProducerReferenceTimeTests {
    @Test("round-trips a version 1 prft through the reader")
    func roundTrip() throws {
        let ntp = FMP4.ntpTimestamp(unixSeconds: 1_767_225_600.25)
        let prft = FMP4.producerReferenceTime(referenceTrackID: 1, ntpTimestamp: ntp, mediaTime: 8_100_000_000)
        #expect(prft.readableBytes == 32)
        let decoded = try #require(try ISOBMFFReader.boxes(in: prft).first).decodeProducerReferenceTime()
        #expect(decoded == .init(version: 1, flags: 0, referenceTrackID: 1, ntpTimestamp: ntp, mediaTime: 8_100_000_000))
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
