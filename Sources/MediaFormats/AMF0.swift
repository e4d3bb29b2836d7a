import NIOCore

/// A value of Action Message Format 0 (Adobe AMF0 specification, 2006), the encoding of RTMP commands and metadata.
///
/// Objects keep their properties in wire order as a list of pairs, because RTMP peers read some of them positionally
/// and a dictionary would lose that order.
public enum AMF0Value: Sendable, Equatable {
    case number(Double)
    case boolean(Bool)
    case string(String)
    case object([(String, AMF0Value)])
    case null
    case undefined
    /// An associative array (marker 0x08); the count on the wire is a hint only, properties end with the object end marker.
    case ecmaArray([(String, AMF0Value)])
    case strictArray([AMF0Value])
    /// Milliseconds since the Unix epoch; the time-zone field is ignored as the specification says.
    case date(Double)

    public static func == (lhs: AMF0Value, rhs: AMF0Value) -> Bool {
        switch (lhs, rhs) {
        case let (.number(a), .number(b)): a == b || (a.isNaN && b.isNaN)
        case let (.boolean(a), .boolean(b)): a == b
        case let (.string(a), .string(b)): a == b
        case let (.object(a), .object(b)), let (.ecmaArray(a), .ecmaArray(b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.null, .null), (.undefined, .undefined): true
        case let (.strictArray(a), .strictArray(b)): a == b
        case let (.date(a), .date(b)): a == b
        default: false
        }
    }

    /// The value of a property of an object or ECMA array, `nil` for other values or a missing key.
    public subscript(key: String) -> AMF0Value? {
        switch self {
        case let .object(properties), let .ecmaArray(properties):
            properties.first { $0.0 == key }?.1
        default:
            nil
        }
    }

    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    public var numberValue: Double? {
        if case let .number(n) = self { return n }
        return nil
    }
}

/// Reads and writes AMF0 values.
public enum AMF0 {
    /// Nesting deeper than this is refused: a peer cannot make the decoder recurse without bound.
    public static let maximumDepth = 16

    private enum Marker: UInt8 {
        case number = 0x00, boolean = 0x01, string = 0x02, object = 0x03, movieClip = 0x04, null = 0x05
        case undefined = 0x06, reference = 0x07, ecmaArray = 0x08, objectEnd = 0x09, strictArray = 0x0A
        case date = 0x0B, longString = 0x0C, unsupported = 0x0D, xmlDocument = 0x0F, typedObject = 0x10
    }

    /// Decodes every value until the buffer is empty (an RTMP command message is a sequence of values).
    public static func decodeAll(_ buffer: inout ByteBuffer) throws(MediaFormatError) -> [AMF0Value] {
        var values: [AMF0Value] = []
        while buffer.readableBytes > 0 {
            values.append(try decode(&buffer))
        }
        return values
    }

    /// Decodes one value.
    public static func decode(_ buffer: inout ByteBuffer) throws(MediaFormatError) -> AMF0Value {
        try decode(&buffer, depth: 0)
    }

    private static func decode(_ buffer: inout ByteBuffer, depth: Int) throws(MediaFormatError) -> AMF0Value {
        guard depth < maximumDepth else { throw .invalid("AMF0 nesting deeper than \(maximumDepth)") }
        guard let byte = buffer.readInteger(as: UInt8.self) else { throw .truncated("AMF0 marker") }
        guard let marker = Marker(rawValue: byte) else { throw .invalid("AMF0 marker 0x\(String(byte, radix: 16))") }
        switch marker {
        case .number:
            guard let bits = buffer.readInteger(as: UInt64.self) else { throw .truncated("AMF0 number") }
            return .number(Double(bitPattern: bits))
        case .boolean:
            guard let b = buffer.readInteger(as: UInt8.self) else { throw .truncated("AMF0 boolean") }
            return .boolean(b != 0)
        case .string:
            return .string(try readUTF8(&buffer, lengthBytes: 2))
        case .longString, .xmlDocument:
            return .string(try readUTF8(&buffer, lengthBytes: 4))
        case .object:
            return .object(try readProperties(&buffer, depth: depth))
        case .typedObject:
            _ = try readUTF8(&buffer, lengthBytes: 2)
            return .object(try readProperties(&buffer, depth: depth))
        case .ecmaArray:
            guard buffer.readInteger(as: UInt32.self) != nil else { throw .truncated("AMF0 ECMA array count") }
            return .ecmaArray(try readProperties(&buffer, depth: depth))
        case .strictArray:
            guard let count = buffer.readInteger(as: UInt32.self) else { throw .truncated("AMF0 strict array count") }
            // Each element takes at least one byte, so a count beyond the bytes left is a lie.
            guard Int(count) <= buffer.readableBytes else { throw .truncated("AMF0 strict array") }
            var items: [AMF0Value] = []
            items.reserveCapacity(Int(count))
            for _ in 0..<count { items.append(try decode(&buffer, depth: depth + 1)) }
            return .strictArray(items)
        case .date:
            guard let bits = buffer.readInteger(as: UInt64.self), buffer.readInteger(as: Int16.self) != nil else {
                throw .truncated("AMF0 date")
            }
            return .date(Double(bitPattern: bits))
        case .null:
            return .null
        case .undefined, .unsupported:
            return .undefined
        case .reference:
            guard buffer.readInteger(as: UInt16.self) != nil else { throw .truncated("AMF0 reference") }
            return .undefined
        case .movieClip, .objectEnd:
            throw .invalid("AMF0 marker 0x\(String(byte, radix: 16)) out of place")
        }
    }

    private static func readUTF8(_ buffer: inout ByteBuffer, lengthBytes: Int) throws(MediaFormatError) -> String {
        let length: Int
        if lengthBytes == 2 {
            guard let n = buffer.readInteger(as: UInt16.self) else { throw .truncated("AMF0 string length") }
            length = Int(n)
        } else {
            guard let n = buffer.readInteger(as: UInt32.self) else { throw .truncated("AMF0 long string length") }
            length = Int(n)
        }
        guard let bytes = buffer.readBytes(length: length) else { throw .truncated("AMF0 string") }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func readProperties(_ buffer: inout ByteBuffer, depth: Int) throws(MediaFormatError) -> [(String, AMF0Value)] {
        var properties: [(String, AMF0Value)] = []
        while true {
            let key = try readUTF8(&buffer, lengthBytes: 2)
            if key.isEmpty, buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == Marker.objectEnd.rawValue {
                buffer.moveReaderIndex(forwardBy: 1)
                return properties
            }
            properties.append((key, try decode(&buffer, depth: depth + 1)))
        }
    }

    /// Appends the encoding of `values` to `buffer`.
    public static func encode(_ values: [AMF0Value], into buffer: inout ByteBuffer) {
        for value in values { encode(value, into: &buffer) }
    }

    /// Appends the encoding of `value` to `buffer`. Strings longer than 65,535 bytes are written as long strings.
    public static func encode(_ value: AMF0Value, into buffer: inout ByteBuffer) {
        switch value {
        case let .number(n):
            buffer.writeInteger(Marker.number.rawValue)
            buffer.writeInteger(n.bitPattern)
        case let .boolean(b):
            buffer.writeInteger(Marker.boolean.rawValue)
            buffer.writeInteger(UInt8(b ? 1 : 0))
        case let .string(s):
            let utf8 = Array(s.utf8)
            if utf8.count > Int(UInt16.max) {
                buffer.writeInteger(Marker.longString.rawValue)
                buffer.writeInteger(UInt32(utf8.count))
            } else {
                buffer.writeInteger(Marker.string.rawValue)
                buffer.writeInteger(UInt16(utf8.count))
            }
            buffer.writeBytes(utf8)
        case let .object(properties):
            buffer.writeInteger(Marker.object.rawValue)
            writeProperties(properties, into: &buffer)
        case .null:
            buffer.writeInteger(Marker.null.rawValue)
        case .undefined:
            buffer.writeInteger(Marker.undefined.rawValue)
        case let .ecmaArray(properties):
            buffer.writeInteger(Marker.ecmaArray.rawValue)
            buffer.writeInteger(UInt32(properties.count))
            writeProperties(properties, into: &buffer)
        case let .strictArray(items):
            buffer.writeInteger(Marker.strictArray.rawValue)
            buffer.writeInteger(UInt32(items.count))
            for item in items { encode(item, into: &buffer) }
        case let .date(ms):
            buffer.writeInteger(Marker.date.rawValue)
            buffer.writeInteger(ms.bitPattern)
            buffer.writeInteger(Int16(0))
        }
    }

    private static func writeProperties(_ properties: [(String, AMF0Value)], into buffer: inout ByteBuffer) {
        for (key, value) in properties {
            let utf8 = Array(key.utf8.prefix(Int(UInt16.max)))
            buffer.writeInteger(UInt16(utf8.count))
            buffer.writeBytes(utf8)
            encode(value, into: &buffer)
        }
        buffer.writeInteger(UInt16(0))
        buffer.writeInteger(Marker.objectEnd.rawValue)
    }
}
