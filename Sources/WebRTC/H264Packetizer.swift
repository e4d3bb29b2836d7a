/// H.264 over RTP (RFC 6184, packetization-mode 1): each NAL unit that fits goes alone (§5.6), one that does not is
/// cut into FU-A fragments (§5.8), and before a keyframe the SPS and PPS go together in one STAP-A (§5.7.1) so a
/// receiver that joins at that keyframe can decode it. Access unit delimiters are left out (§5.4 allows it); the last
/// packet of an access unit carries the marker bit.
public enum H264Packetizer {
    public struct Payload: Sendable, Equatable {
        public var bytes: [UInt8]
        /// The last packet of the access unit (the RTP marker bit, §5.1).
        public var marker: Bool
    }

    static let stapA: UInt8 = 24
    static let fuA: UInt8 = 28
    static let accessUnitDelimiter: UInt8 = 9

    /// The NAL units of an ISO/IEC 14496-15 sample (each prefixed by a `lengthSize`-byte big-endian length). A length
    /// that runs past the end stops the walk: what came before is kept, the rest is garbage.
    public static func nalUnits(in sample: [UInt8], lengthSize: Int) -> [ArraySlice<UInt8>] {
        guard (1...4).contains(lengthSize) else { return [] }
        var units: [ArraySlice<UInt8>] = []
        var offset = 0
        while offset + lengthSize <= sample.count {
            var length = 0
            for index in 0..<lengthSize { length = length << 8 | Int(sample[offset + index]) }
            offset += lengthSize
            guard length > 0, offset + length <= sample.count else { break }
            units.append(sample[offset..<offset + length])
            offset += length
        }
        return units
    }

    /// The RTP payloads of one access unit. `parameterSets` (SPS then PPS) are sent first when given: pass them for
    /// keyframes. Every payload is at most `maximumPayload` bytes (≥ 16).
    public static func payloads(
        nalUnits: [ArraySlice<UInt8>], parameterSets: [[UInt8]] = [], maximumPayload: Int
    ) -> [Payload] {
        let limit = max(maximumPayload, 16)
        var out: [[UInt8]] = []
        let sets = parameterSets.filter { !$0.isEmpty }
        if !sets.isEmpty {
            let size = 1 + sets.reduce(0) { $0 + 2 + $1.count }
            if size <= limit, sets.count > 1 {
                let nri = sets.map { $0[0] & 0x60 }.max() ?? 0x60
                var stap: [UInt8] = [nri | stapA]
                for set in sets {
                    stap.append(UInt8(set.count >> 8))
                    stap.append(UInt8(set.count & 0xFF))
                    stap.append(contentsOf: set)
                }
                out.append(stap)
            } else {
                for set in sets { out += fragments(set[...], limit: limit) }
            }
        }
        for unit in nalUnits where !unit.isEmpty && unit[unit.startIndex] & 0x1F != accessUnitDelimiter {
            out += fragments(unit, limit: limit)
        }
        return out.enumerated().map { index, bytes in Payload(bytes: bytes, marker: index == out.count - 1) }
    }

    /// A single NAL unit packet, or FU-A fragments of it.
    static func fragments(_ unit: ArraySlice<UInt8>, limit: Int) -> [[UInt8]] {
        if unit.count <= limit { return [Array(unit)] }
        let header = unit[unit.startIndex]
        let indicator = header & 0xE0 | fuA
        let type = header & 0x1F
        var result: [[UInt8]] = []
        var offset = unit.startIndex + 1
        let chunk = limit - 2
        while offset < unit.endIndex {
            let end = min(offset + chunk, unit.endIndex)
            var fuHeader = type
            if offset == unit.startIndex + 1 { fuHeader |= 0x80 }
            if end == unit.endIndex { fuHeader |= 0x40 }
            result.append([indicator, fuHeader] + unit[offset..<end])
            offset = end
        }
        return result
    }
}
