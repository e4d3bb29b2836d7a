import NIOCore

extension FMP4 {
    /// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01), RFC 5905 §6.
    static let ntpUnixEpochOffset: Double = 2_208_988_800

    /// Writes a version 1 `prft` box (ISO/IEC 14496-12 §8.16.5): the wall-clock time (`ntpTimestamp`, 64-bit NTP)
    /// at which the sample of `referenceTrackID` with decode time `mediaTime` (in that track's timescale) was
    /// produced. Flags 0: the time the sample was input to the encoder, the closest our ingest knows. It goes
    /// before the `moof` it refers to, so a player can map media time to wall-clock time.
    public static func producerReferenceTime(referenceTrackID: UInt32, ntpTimestamp: UInt64, mediaTime: UInt64) -> ByteBuffer {
        var writer = ISOBoxWriter(capacity: 32)
        writer.fullBox("prft", version: 1, flags: 0) { prft in
            prft.write(referenceTrackID)
            prft.write(ntpTimestamp)
            prft.write(mediaTime)
        }
        return writer.buffer
    }

    /// The 64-bit NTP timestamp (RFC 5905 §6: 32 bits of seconds since 1900, 32 bits of fraction) of a Unix time.
    /// Seconds wrap at the NTP era boundary (2036) as the format does; times before 1900, NaN and infinities give 0.
    public static func ntpTimestamp(unixSeconds: Double) -> UInt64 {
        let ntpSeconds = unixSeconds + ntpUnixEpochOffset
        guard ntpSeconds.isFinite, ntpSeconds >= 0, ntpSeconds < 0x1p62 else { return 0 }
        let whole = ntpSeconds.rounded(.down)
        let fraction = UInt64(((ntpSeconds - whole) * 0x1p32).rounded(.down))
        let seconds = UInt64(whole) & 0xFFFF_FFFF
        return seconds << 32 | min(fraction, 0xFFFF_FFFF)
    }
}
