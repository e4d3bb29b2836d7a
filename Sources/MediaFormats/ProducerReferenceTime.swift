import NIOCore

extension FMP4 {
    /// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01), RFC 5905 §6.
    static let ntpUnixEpochOffset: Double = 2_208_988_800

    /// A version 1 `prft` box (ISO/IEC 14496-12 §8.16.5) to write in front of a fragment: the UTC time
    /// (`ntpTimestamp`, 64-bit NTP) associated with `mediaTime` of track `referenceTrackID` (in that track's timescale),
    /// with `flags` saying what the association means.
    public struct ProducerReferenceTime: Sendable, Equatable {
        /// `flags` (ISO/IEC 14496-12:2022 §8.16.5.3): the UTC time is when the frame at `mediaTime` was input to the
        /// encoder.
        public static let encoderInput: UInt32 = 0
        /// The UTC time is when the frame at `mediaTime` was output from the encoder.
        public static let encoderOutput: UInt32 = 1
        /// The UTC time is when the following `moof` was finalized; `mediaTime` is its earliest presentation time.
        public static let fragmentFinalized: UInt32 = 2
        /// The UTC time is when the following `moof` was written; `mediaTime` is its earliest presentation time.
        public static let fragmentWritten: UInt32 = 4
        /// The association of `mediaTime` and UTC time is arbitrary but the same in every `prft` of the track.
        public static let consistent: UInt32 = 8
        /// Consistent, and the UTC time has a small (ideally zero) constant offset from the real time of what the
        /// media depicts at `mediaTime` (the bits of 8 and 16).
        public static let realTime: UInt32 = 24

        public var referenceTrackID: UInt32
        public var ntpTimestamp: UInt64
        public var mediaTime: UInt64
        public var flags: UInt32

        public init(referenceTrackID: UInt32, ntpTimestamp: UInt64, mediaTime: UInt64, flags: UInt32) {
            self.referenceTrackID = referenceTrackID
            self.ntpTimestamp = ntpTimestamp
            self.mediaTime = mediaTime
            self.flags = flags
        }

        /// The byte size of the box (version 1).
        public static let size = 32
    }

    /// Writes a version 1 `prft` box (ISO/IEC 14496-12 §8.16.5): the wall-clock time (`ntpTimestamp`, 64-bit NTP)
    /// associated with decode time `mediaTime` of `referenceTrackID` (in that track's timescale), with `flags` one
    /// of the ``ProducerReferenceTime`` values. It goes before the `moof` it refers to, so a player can map media
    /// time to wall-clock time.
    public static func producerReferenceTime(
        referenceTrackID: UInt32, ntpTimestamp: UInt64, mediaTime: UInt64, flags: UInt32
    ) -> ByteBuffer {
        var writer = ISOBoxWriter(capacity: ProducerReferenceTime.size)
        writer.writeProducerReferenceTime(
            ProducerReferenceTime(referenceTrackID: referenceTrackID, ntpTimestamp: ntpTimestamp, mediaTime: mediaTime, flags: flags))
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

extension ISOBoxWriter {
    /// Writes `reference` as a version 1 `prft` box (64-bit `media_time`).
    public mutating func writeProducerReferenceTime(_ reference: FMP4.ProducerReferenceTime) {
        fullBox("prft", version: 1, flags: reference.flags) { prft in
            prft.write(reference.referenceTrackID)
            prft.write(reference.ntpTimestamp)
            prft.write(reference.mediaTime)
        }
    }
}
