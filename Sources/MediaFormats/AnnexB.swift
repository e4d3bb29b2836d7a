/// H.264 in Annex B byte-stream form (ITU-T H.264 Annex B), as MPEG-TS carries it: NAL units behind `00 00 01` or
/// `00 00 00 01` start codes. MP4 and our `MediaFrame`s want the ISO/IEC 14496-15 form instead: each NAL unit behind
/// a 4-byte length, with the SPS and PPS moved into the `avcC` record.
public enum AnnexB {
    /// NAL unit types (Table 7-1) this conversion acts on.
    public enum NALType {
        public static let idr: UInt8 = 5
        public static let sps: UInt8 = 7
        public static let pps: UInt8 = 8
        public static let accessUnitDelimiter: UInt8 = 9
    }

    /// The NAL units of a byte stream, without start codes or the zero bytes that pad between them.
    public static func nalUnits(in bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var units: [ArraySlice<UInt8>] = []
        var start: Int?
        var index = 0
        let count = bytes.count
        while index + 2 < count {
            if bytes[index] == 0, bytes[index + 1] == 0, bytes[index + 2] == 1 {
                if let start { units.append(trimmed(bytes[start..<index])) }
                index += 3
                start = index
            } else {
                index += 1
            }
        }
        if let start, start < count { units.append(trimmed(bytes[start..<count])) }
        return units.filter { !$0.isEmpty }
    }

    /// Drops trailing zero bytes (the leading zero of a 4-byte start code, or `trailing_zero_8bits`).
    private static func trimmed(_ unit: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var end = unit.endIndex
        while end > unit.startIndex, unit[end - 1] == 0 { end -= 1 }
        return unit[unit.startIndex..<end]
    }

    /// One access unit converted: the sample (4-byte length-prefixed NAL units, without AUD, SPS and PPS), whether it
    /// holds an IDR slice, and the parameter sets it carried.
    public struct AccessUnit: Sendable, Equatable {
        public var sample: [UInt8]
        public var isKeyframe: Bool
        public var sequenceParameterSets: [[UInt8]]
        public var pictureParameterSets: [[UInt8]]
    }

    public static func accessUnit(_ bytes: [UInt8]) -> AccessUnit {
        var unit = AccessUnit(sample: [], isKeyframe: false, sequenceParameterSets: [], pictureParameterSets: [])
        unit.sample.reserveCapacity(bytes.count + 16)
        for nal in nalUnits(in: bytes) {
            guard let header = nal.first else { continue }
            switch header & 0x1F {
            case NALType.sps: unit.sequenceParameterSets.append(Array(nal))
            case NALType.pps: unit.pictureParameterSets.append(Array(nal))
            case NALType.accessUnitDelimiter: continue
            default:
                if header & 0x1F == NALType.idr { unit.isKeyframe = true }
                let length = UInt32(nal.count)
                unit.sample += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
                unit.sample.append(contentsOf: nal)
            }
        }
        return unit
    }
}

extension AVCDecoderConfiguration {
    /// Builds the `avcC` record (ISO/IEC 14496-15 §5.3.3.1) for parameter sets taken from a byte stream, with 4-byte
    /// NAL lengths and, for the high profiles, the chroma format and bit depths from the SPS (§5.3.3.1.2).
    public init(sequenceParameterSet sps: [UInt8], pictureParameterSets: [[UInt8]]) throws(MediaFormatError) {
        guard sps.count >= 4, sps.count <= 0xFFFF else { throw .invalid("H.264 SPS of \(sps.count) bytes") }
        guard !pictureParameterSets.isEmpty, pictureParameterSets.count <= 255,
              pictureParameterSets.allSatisfy({ !$0.isEmpty && $0.count <= 0xFFFF }) else {
            throw .invalid("H.264 PPS set")
        }
        let parsed = try H264SPS(nalUnit: sps)
        var record: [UInt8] = [1, sps[1], sps[2], sps[3], 0xFF, 0xE1, UInt8(sps.count >> 8), UInt8(sps.count & 0xFF)]
        record += sps
        record.append(UInt8(pictureParameterSets.count))
        for pps in pictureParameterSets {
            record += [UInt8(pps.count >> 8), UInt8(pps.count & 0xFF)]
            record += pps
        }
        if [100, 110, 122, 144].contains(parsed.profileIDC) {
            record += [0xFC | UInt8(parsed.chromaFormatIDC & 0x03), 0xF8 | UInt8((parsed.bitDepthLuma - 8) & 0x07),
                       0xF8 | UInt8((parsed.bitDepthChroma - 8) & 0x07), 0]
        }
        try self.init(record: record)
    }
}
