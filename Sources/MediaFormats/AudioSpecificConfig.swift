/// An MPEG-4 Audio `AudioSpecificConfig` (ISO/IEC 14496-3 §1.6.2.1): the object type, sampling frequency and channel
/// configuration of an AAC stream.
///
/// RTMP/FLV sends these bytes as the AAC sequence header and MP4 carries them verbatim as the `DecSpecificInfo` of
/// the `esds` box, so `bytes` keeps them exactly as received (including any trailing explicit SBR signalling).
/// For HE-AAC signalled hierarchically (object type 5 or 29) `objectType` is that signalled type and
/// `samplingFrequency` the core AAC rate.
public struct AudioSpecificConfig: Sendable, Equatable {
    /// `audioObjectType` (2 = AAC LC, 5 = SBR, 29 = PS); Table 1.17.
    public var objectType: Int
    /// Sampling rate in Hz, from `samplingFrequencyIndex` (Table 1.18) or the explicit 24-bit value.
    public var samplingFrequency: Int
    /// `channelConfiguration` (Table 1.19): 1 mono, 2 stereo … 7 for 7.1 (11…14 for the later layouts); 0 when a program
    /// config element says it. The reserved values 8…10 are rejected.
    public var channelConfiguration: Int
    /// The raw AudioSpecificConfig bytes.
    public var bytes: [UInt8]

    /// Table 1.18, indices 0…12.
    static let samplingFrequencies = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]

    /// Parses AudioSpecificConfig bytes.
    public init(bytes: [UInt8]) throws(MediaFormatError) {
        var bits = BitReader(bytes: bytes, context: "AudioSpecificConfig")
        objectType = try Self.readObjectType(&bits)
        guard objectType != 0 else { throw .invalid("AudioSpecificConfig: audioObjectType 0") }
        samplingFrequency = try Self.readSamplingFrequency(&bits)
        channelConfiguration = Int(try bits.readBits(4))
        guard channelConfiguration <= 7 || (11...14).contains(channelConfiguration) else { throw .invalid("AudioSpecificConfig: channelConfiguration \(channelConfiguration)") }
        self.bytes = bytes
    }

    /// Builds the two-byte (or, for a rate outside Table 1.18, five-byte) AudioSpecificConfig for the given fields,
    /// as when converting ADTS headers for MP4.
    public init(objectType: Int, samplingFrequency: Int, channelConfiguration: Int) throws(MediaFormatError) {
        guard (1...30).contains(objectType) else { throw .invalid("AudioSpecificConfig: audioObjectType \(objectType)") }
        guard (1...0xFF_FFFF).contains(samplingFrequency) else {
            throw .invalid("AudioSpecificConfig: sampling frequency \(samplingFrequency)")
        }
        guard (0...15).contains(channelConfiguration) else {
            throw .invalid("AudioSpecificConfig: channelConfiguration \(channelConfiguration)")
        }
        var value: UInt64
        var bitCount: Int
        if let index = Self.samplingFrequencies.firstIndex(of: samplingFrequency) {
            value = UInt64(objectType) << 8 | UInt64(index) << 4 | UInt64(channelConfiguration)
            bitCount = 13
        } else {
            value = UInt64(objectType) << 32 | 0xF << 28 | UInt64(samplingFrequency) << 4 | UInt64(channelConfiguration)
            bitCount = 37
        }
        let byteCount = (bitCount + 7) / 8
        value <<= UInt64(byteCount * 8 - bitCount)
        var bytes: [UInt8] = []
        for index in (0..<byteCount).reversed() {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(index * 8)))
        }
        try self.init(bytes: bytes)
    }

    /// The RFC 6381 `codecs` value, `mp4a.40.<audioObjectType>`.
    public var codecString: String { "mp4a.40.\(objectType)" }

    /// `GetAudioObjectType()` (§1.6.2.1): 5 bits, with 31 escaping to 32 + 6 more bits.
    private static func readObjectType(_ bits: inout BitReader) throws(MediaFormatError) -> Int {
        let type = Int(try bits.readBits(5))
        return type == 31 ? 32 + Int(try bits.readBits(6)) : type
    }

    private static func readSamplingFrequency(_ bits: inout BitReader) throws(MediaFormatError) -> Int {
        let index = Int(try bits.readBits(4))
        if index == 0xF {
            let frequency = Int(try bits.readBits(24))
            guard frequency > 0 else { throw .invalid("AudioSpecificConfig: sampling frequency 0") }
            return frequency
        }
        guard index < samplingFrequencies.count else {
            throw .invalid("AudioSpecificConfig: samplingFrequencyIndex \(index)")
        }
        return samplingFrequencies[index]
    }
}
