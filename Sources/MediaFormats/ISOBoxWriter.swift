import NIOCore

/// Writes ISO base media file format boxes (ISO/IEC 14496-12 §4.2) into a `ByteBuffer`.
///
/// `box(_:_:)` reserves the 32-bit size, lets the body write itself, then fills in the size, so nested boxes are
/// written in one pass without computing sizes up front. Four-character codes are the writer's own literals; a code
/// that is not four bytes long is a programming error caught by an assertion in debug builds.
public struct ISOBoxWriter: Sendable {
    public var buffer: ByteBuffer

    public init(buffer: ByteBuffer) {
        self.buffer = buffer
    }

    public init(capacity: Int) {
        self.buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    /// Writes a box of type `type` whose payload is what `body` writes.
    public mutating func box(_ type: String, _ body: (inout ISOBoxWriter) -> Void) {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        writeFourCC(type)
        body(&self)
        let size = buffer.writerIndex - start
        buffer.setInteger(UInt32(truncatingIfNeeded: size), at: start)
    }

    /// Writes a full box (§4.2: `version` byte and 24-bit `flags` before the payload).
    public mutating func fullBox(_ type: String, version: UInt8, flags: UInt32, _ body: (inout ISOBoxWriter) -> Void) {
        box(type) { writer in
            writer.buffer.writeInteger(UInt32(version) << 24 | (flags & 0x00FF_FFFF))
            body(&writer)
        }
    }

    /// Writes a four-character code.
    public mutating func writeFourCC(_ code: String) {
        assert(code.utf8.count == 4, "four-character code \(code)")
        buffer.writeString(code)
    }

    public mutating func write<Integer: FixedWidthInteger>(_ value: Integer) {
        buffer.writeInteger(value)
    }

    /// Writes `count` zero bytes (reserved and `pre_defined` fields).
    public mutating func writeZeros(_ count: Int) {
        buffer.writeRepeatingByte(0, count: count)
    }

    public mutating func writeBytes(_ bytes: some Sequence<UInt8>) {
        buffer.writeBytes(bytes)
    }

    /// Writes a UTF-8 string with its NUL terminator, the `string` type of §4.2 / ISO/IEC 23009-1 emsg.
    public mutating func writeNullTerminatedString(_ string: String) {
        buffer.writeString(string)
        buffer.writeInteger(UInt8(0))
    }

    /// Writes the unity transformation matrix of `mvhd`/`tkhd` (§8.2.2.3).
    public mutating func writeUnityMatrix() {
        for value: UInt32 in [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
            buffer.writeInteger(value)
        }
    }
}
