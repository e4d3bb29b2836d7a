/// ADTS, the framing AAC travels in inside MPEG-TS (ISO/IEC 14496-3 §1.A.2.2): a 7-byte header (9 with CRC) in front
/// of each raw AAC frame. A PES usually holds several frames; each becomes one `MediaFrame` with the header removed,
/// and the header's fields give the AudioSpecificConfig MP4 needs.
public enum ADTS {
    /// One frame: its configuration and the raw AAC bytes after the header.
    public struct Frame: Sendable, Equatable {
        public var configuration: AudioSpecificConfig
        public var payload: ArraySlice<UInt8>
    }

    /// Samples per AAC-LC frame: each frame advances the clock by 1024 / sampling rate.
    public static let samplesPerFrame = 1024

    /// Splits an ADTS byte run into frames. Throws on the first header that is not one, or a frame that runs past
    /// the input.
    public static func frames(in bytes: [UInt8]) throws(ADTSError) -> [Frame] {
        var frames: [Frame] = []
        var offset = 0
        while offset < bytes.count {
            guard offset + 7 <= bytes.count else { throw .truncated(offset: offset) }
            guard bytes[offset] == 0xFF, bytes[offset + 1] & 0xF6 == 0xF0 else { throw .noSyncword(offset: offset) }
            let protectionAbsent = bytes[offset + 1] & 0x01 == 1
            let profile = Int(bytes[offset + 2] >> 6)
            let frequencyIndex = Int(bytes[offset + 2] >> 2 & 0x0F)
            let channels = Int(bytes[offset + 2] & 0x01) << 2 | Int(bytes[offset + 3] >> 6)
            let length = Int(bytes[offset + 3] & 0x03) << 11 | Int(bytes[offset + 4]) << 3 | Int(bytes[offset + 5] >> 5)
            let headerLength = protectionAbsent ? 7 : 9
            guard length >= headerLength else { throw .badFrameLength(length) }
            guard offset + length <= bytes.count else { throw .truncated(offset: offset) }
            guard frequencyIndex < AudioSpecificConfig.samplingFrequencies.count else {
                throw .unsupported("sampling_frequency_index \(frequencyIndex)")
            }
            let configuration: AudioSpecificConfig
            do {
                configuration = try AudioSpecificConfig(
                    objectType: profile + 1, samplingFrequency: AudioSpecificConfig.samplingFrequencies[frequencyIndex],
                    channelConfiguration: channels
                )
            } catch {
                throw .unsupported("\(error)")
            }
            frames.append(Frame(configuration: configuration, payload: bytes[(offset + headerLength)..<(offset + length)]))
            offset += length
        }
        return frames
    }
}
