/// An H.264 decoder configuration record, the `avcC` of ISO/IEC 14496-15 §5.3.3.1: profile and level, the length
/// of the NAL unit size prefix used by samples, and the parameter sets.
///
/// RTMP/FLV carries this record verbatim as the AVC sequence header, and the `avc1` sample entry of an MP4 init
/// segment carries it verbatim in its `avcC` box, so `record` keeps the bytes exactly as received.
public struct AVCDecoderConfiguration: Sendable, Equatable {
    public var profileIndication: UInt8
    public var profileCompatibility: UInt8
    public var levelIndication: UInt8
    /// Bytes in each sample's NAL unit length prefix: 1, 2 or 4.
    public var nalUnitLengthSize: Int
    /// SPS NAL units, each with its NAL header.
    public var sequenceParameterSets: [[UInt8]]
    /// PPS NAL units, each with its NAL header.
    public var pictureParameterSets: [[UInt8]]
    /// The raw `avcC` bytes.
    public var record: [UInt8]

    /// Parses an `avcC` record. Requires `configurationVersion` 1 and at least one SPS; trailing bytes (the
    /// high-profile chroma/bit-depth extension, or padding) are kept in `record` but not interpreted.
    public init(record: [UInt8]) throws(MediaFormatError) {
        let context = "AVCDecoderConfigurationRecord"
        guard record.count >= 7 else { throw .truncated(context) }
        guard record[0] == 1 else { throw .invalid("\(context): configurationVersion \(record[0])") }
        profileIndication = record[1]
        profileCompatibility = record[2]
        levelIndication = record[3]
        let lengthSizeMinusOne = Int(record[4] & 0x03)
        guard lengthSizeMinusOne != 2 else { throw .invalid("\(context): lengthSizeMinusOne 2") }
        nalUnitLengthSize = lengthSizeMinusOne + 1

        var offset = 5
        func parameterSets(count: Int, name: String) throws(MediaFormatError) -> [[UInt8]] {
            var sets: [[UInt8]] = []
            for _ in 0..<count {
                guard offset + 2 <= record.count else { throw .truncated("\(context) \(name) length") }
                let length = Int(record[offset]) << 8 | Int(record[offset + 1])
                offset += 2
                guard offset + length <= record.count else { throw .truncated("\(context) \(name)") }
                guard length > 0 else { throw .invalid("\(context): empty \(name)") }
                sets.append(Array(record[offset..<offset + length]))
                offset += length
            }
            return sets
        }
        let spsCount = Int(record[5] & 0x1F)
        offset = 6
        guard spsCount > 0 else { throw .invalid("\(context): no SPS") }
        sequenceParameterSets = try parameterSets(count: spsCount, name: "SPS")
        guard offset < record.count else { throw .truncated("\(context) PPS count") }
        let ppsCount = Int(record[offset])
        offset += 1
        pictureParameterSets = try parameterSets(count: ppsCount, name: "PPS")
        self.record = record
    }

    /// The RFC 6381 `codecs` value, `avc1.PPCCLL` in upper-case hex (profile, compatibility, level), as HLS
    /// `CODECS` and MSE `addSourceBuffer` expect.
    public var codecString: String {
        "avc1." + [profileIndication, profileCompatibility, levelIndication].map(Self.hex).joined()
    }

    /// The first SPS, parsed.
    public func parsedSPS() throws(MediaFormatError) -> H264SPS {
        guard let first = sequenceParameterSets.first else { throw .invalid("AVCDecoderConfigurationRecord: no SPS") }
        return try H264SPS(nalUnit: first)
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}
