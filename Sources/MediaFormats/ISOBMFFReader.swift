import NIOCore

/// A minimal ISO base media file format reader (ISO/IEC 14496-12 §4.2) for tests and tools: splits bytes into boxes
/// and descends into the container boxes this project writes or needs to inspect.
///
/// It checks every size against the bytes present and throws instead of trapping, so it is safe on garbage. Boxes
/// hold zero-copy slices of the input.
public enum ISOBMFFReader {
    /// Boxes whose payload is a sequence of boxes.
    static let containerTypes: Set<String> = [
        "moov", "trak", "mdia", "minf", "stbl", "mvex", "moof", "traf", "dinf", "edts", "mfra", "udta",
    ]
    /// Boxes whose child boxes follow a fixed-size header of the given length.
    static let headedContainerTypes: [String: Int] = [
        "stsd": 8,  // full box header + entry_count (§8.5.2)
        "dref": 8,  // full box header + entry_count (§8.7.2)
        "avc1": 78,  // VisualSampleEntry fields (§12.1.3)
        "avc3": 78,
        "mp4a": 28,  // AudioSampleEntry fields (§12.2.3)
    ]
    /// Nesting deeper than this is not something we write; input that does is rejected rather than recursed into.
    static let maximumDepth = 16

    /// The top-level boxes of `buffer`'s readable bytes, with children parsed for container boxes.
    public static func boxes(in buffer: ByteBuffer) throws(MediaFormatError) -> [ISOBox] {
        try boxes(in: buffer, baseOffset: 0, depth: 0)
    }

    /// The first box on `path` (e.g. `["moov", "trak", "mdia", "mdhd"]`) among `boxes` and their children.
    public static func first(_ path: [String], in boxes: [ISOBox]) -> ISOBox? {
        guard let head = path.first, let match = boxes.first(where: { $0.type == head }) else { return nil }
        return path.count == 1 ? match : first(Array(path.dropFirst()), in: match.children)
    }

    private static func boxes(in buffer: ByteBuffer, baseOffset: Int, depth: Int) throws(MediaFormatError) -> [ISOBox] {
        guard depth <= maximumDepth else { throw .invalid("ISO BMFF: boxes nested deeper than \(maximumDepth)") }
        var remaining = buffer
        var result: [ISOBox] = []
        while remaining.readableBytes > 0 {
            let offset = baseOffset + (remaining.readerIndex - buffer.readerIndex)
            guard let size32 = remaining.readInteger(as: UInt32.self),
                let typeBytes = remaining.readBytes(length: 4)
            else { throw .truncated("ISO BMFF box header") }
            let type = String(String.UnicodeScalarView(typeBytes.map { Unicode.Scalar($0) }))
            var headerSize = 8
            let size: Int
            switch size32 {
            case 0:
                size = 8 + remaining.readableBytes  // extends to the end of the enclosing space
            case 1:
                guard let largeSize = remaining.readInteger(as: UInt64.self) else {
                    throw .truncated("ISO BMFF '\(type)' largesize")
                }
                headerSize = 16
                guard largeSize <= UInt64(Int.max) else { throw .invalid("ISO BMFF '\(type)' size \(largeSize)") }
                size = Int(largeSize)
            default:
                size = Int(size32)
            }
            if type == "uuid" {
                guard remaining.readableBytes >= 16 else { throw .truncated("ISO BMFF 'uuid' extended type") }
                remaining.moveReaderIndex(forwardBy: 16)
                headerSize += 16
            }
            guard size >= headerSize else { throw .invalid("ISO BMFF '\(type)' size \(size) smaller than its header") }
            let payloadLength = size - headerSize
            guard payloadLength <= remaining.readableBytes, let payload = remaining.readSlice(length: payloadLength) else {
                throw .truncated("ISO BMFF '\(type)' box of \(size) bytes")
            }
            var children: [ISOBox] = []
            if containerTypes.contains(type) {
                children = try boxes(in: payload, baseOffset: offset + headerSize, depth: depth + 1)
            } else if let skip = headedContainerTypes[type] {
                guard payload.readableBytes >= skip else { throw .truncated("ISO BMFF '\(type)' fields") }
                let entries = payload.getSlice(at: payload.readerIndex + skip, length: payload.readableBytes - skip) ?? ByteBuffer()
                children = try boxes(in: entries, baseOffset: offset + headerSize + skip, depth: depth + 1)
            }
            result.append(
                ISOBox(type: type, offset: offset, size: size, headerSize: headerSize, payload: payload, children: children)
            )
        }
        return result
    }
}
