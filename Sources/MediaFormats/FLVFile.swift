import NIOCore

/// Reads the tags of an FLV file (Adobe FLV specification v10.1, annex E.2–E.3). Used for the built-in demo clip and
/// by tools that replay a recording over RTMP.
public struct FLVFileReader: Sendable {
    /// One tag of the file: its type (8 audio, 9 video, 18 script data), timestamp in milliseconds and body.
    public struct Tag: Sendable {
        public var type: UInt8
        public var timestamp: UInt32
        public var body: ByteBuffer
    }

    public private(set) var tags: [Tag] = []

    public init(_ file: ByteBuffer) throws(MediaFormatError) {
        var file = file
        guard file.readString(length: 3) == "FLV" else { throw .invalid("FLV signature") }
        guard file.readInteger(as: UInt8.self) != nil, file.readInteger(as: UInt8.self) != nil,
              let headerSize = file.readInteger(as: UInt32.self), headerSize >= 9
        else { throw .truncated("FLV header") }
        file.moveReaderIndex(forwardBy: min(Int(headerSize) - 9, file.readableBytes))
        guard file.readInteger(as: UInt32.self) != nil else { throw .truncated("FLV PreviousTagSize0") }
        while file.readableBytes >= 11 {
            guard let type = file.readInteger(as: UInt8.self),
                  let size = file.readBytes(length: 3),
                  let ts = file.readBytes(length: 3),
                  let tsExt = file.readInteger(as: UInt8.self),
                  file.readBytes(length: 3) != nil
            else { throw .truncated("FLV tag header") }
            let length = Int(size[0]) << 16 | Int(size[1]) << 8 | Int(size[2])
            guard let body = file.readSlice(length: length) else { throw .truncated("FLV tag body") }
            let timestamp = UInt32(tsExt) << 24 | UInt32(ts[0]) << 16 | UInt32(ts[1]) << 8 | UInt32(ts[2])
            tags.append(Tag(type: type & 0x1F, timestamp: timestamp, body: body))
            guard file.readInteger(as: UInt32.self) != nil else { break }
        }
    }
}
