import Crypto

/// Why a datagram is not a STUN message we can use.
public enum STUNError: Error, Sendable, Equatable {
    case tooShort(Int)
    case notSTUN
    case badLength
    case truncatedAttribute
}

/// A STUN message (RFC 8489): the header, the attributes in order, and the bytes it came in as, which
/// MESSAGE-INTEGRITY and FINGERPRINT are checked against.
///
/// An ICE-lite agent only answers Binding requests (RFC 8445 §2.5): it checks the USERNAME (`ours:theirs`), the
/// MESSAGE-INTEGRITY (HMAC-SHA1 keyed with our ICE password, §14.5) and the FINGERPRINT (CRC-32 ⊕ 0x5354554E, §14.7),
/// and answers with an XOR-MAPPED-ADDRESS, integrity and fingerprint of its own.
public struct STUNMessage: Sendable, Equatable {
    public struct Attribute: Sendable, Equatable {
        public var type: UInt16
        public var value: [UInt8]
        /// Where its header starts in the received message (0 for one we built).
        var offset = 0

        public init(type: UInt16, value: [UInt8]) {
            self.type = type
            self.value = value
        }
    }

    public enum AttributeType {
        public static let username: UInt16 = 0x0006
        public static let messageIntegrity: UInt16 = 0x0008
        public static let errorCode: UInt16 = 0x0009
        public static let xorMappedAddress: UInt16 = 0x0020
        public static let priority: UInt16 = 0x0024
        public static let useCandidate: UInt16 = 0x0025
        public static let software: UInt16 = 0x8022
        public static let fingerprint: UInt16 = 0x8028
        public static let iceControlled: UInt16 = 0x8029
        public static let iceControlling: UInt16 = 0x802A
    }

    public static let bindingRequest: UInt16 = 0x0001
    public static let bindingSuccess: UInt16 = 0x0101
    public static let bindingError: UInt16 = 0x0111
    public static let magicCookie: UInt32 = 0x2112_A442
    static let fingerprintXOR: UInt32 = 0x5354_554E

    public var type: UInt16
    public var transactionID: [UInt8]
    public var attributes: [Attribute]
    /// The received bytes (empty for a message we built).
    private var raw: [UInt8] = []

    public init(type: UInt16, transactionID: [UInt8], attributes: [Attribute] = []) {
        self.type = type
        self.transactionID = transactionID
        self.attributes = attributes
    }

    /// RFC 7983 §7: a datagram whose first byte is 0–3 and that carries the magic cookie.
    public static func looksLikeSTUN(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 20 && bytes[0] < 4 && bytes[4] == 0x21 && bytes[5] == 0x12 && bytes[6] == 0xA4 && bytes[7] == 0x42
    }

    public init(parsing bytes: [UInt8]) throws(STUNError) {
        guard bytes.count >= 20 else { throw .tooShort(bytes.count) }
        guard Self.looksLikeSTUN(bytes) else { throw .notSTUN }
        let length = Int(bytes[2]) << 8 | Int(bytes[3])
        guard length % 4 == 0, length + 20 == bytes.count else { throw .badLength }
        type = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        transactionID = Array(bytes[8..<20])
        attributes = []
        var offset = 20
        while offset < bytes.count {
            guard offset + 4 <= bytes.count else { throw .truncatedAttribute }
            let attributeType = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
            let attributeLength = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            let valueStart = offset + 4
            guard valueStart + attributeLength <= bytes.count else { throw .truncatedAttribute }
            var attribute = Attribute(type: attributeType, value: Array(bytes[valueStart..<valueStart + attributeLength]))
            attribute.offset = offset
            attributes.append(attribute)
            offset = valueStart + (attributeLength + 3) / 4 * 4
        }
        raw = bytes
    }

    public func attribute(_ type: UInt16) -> [UInt8]? {
        attributes.first { $0.type == type }?.value
    }

    public var username: String? {
        attribute(AttributeType.username).map { String(decoding: $0, as: UTF8.self) }
    }

    /// RFC 8489 §14.5: the HMAC-SHA1 over the message up to the MESSAGE-INTEGRITY attribute, with the header's
    /// length counting up to the end of that attribute.
    public func hasValidIntegrity(key: [UInt8]) -> Bool {
        guard let integrity = attributes.first(where: { $0.type == AttributeType.messageIntegrity }),
              integrity.value.count == 20, integrity.offset >= 20 else { return false }
        var covered = Array(raw[0..<integrity.offset])
        let length = integrity.offset + 24 - 20
        covered[2] = UInt8(length >> 8)
        covered[3] = UInt8(length & 0xFF)
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: covered, using: SymmetricKey(data: key)))
        // Constant time: the comparison must not tell an attacker how many leading bytes were right.
        return zip(mac, integrity.value).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// RFC 8489 §14.7: the last attribute, CRC-32 of everything before it, XOR 0x5354554E.
    public var hasValidFingerprint: Bool {
        guard let last = attributes.last, last.type == AttributeType.fingerprint, last.value.count == 4, last.offset >= 20 else {
            return false
        }
        let expected = CRC32.checksum(raw[0..<last.offset]) ^ Self.fingerprintXOR
        let got = UInt32(last.value[0]) << 24 | UInt32(last.value[1]) << 16 | UInt32(last.value[2]) << 8 | UInt32(last.value[3])
        return expected == got
    }

    /// The message's bytes, with MESSAGE-INTEGRITY (keyed with `integrityKey`) and FINGERPRINT appended when asked.
    public func encoded(integrityKey: [UInt8]? = nil, fingerprint: Bool = false) -> [UInt8] {
        var body: [UInt8] = []
        for attribute in attributes {
            Self.append(attribute.type, attribute.value, to: &body)
        }
        func header(length: Int) -> [UInt8] {
            var bytes = [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(length >> 8), UInt8(length & 0xFF),
                         0x21, 0x12, 0xA4, 0x42]
            bytes.append(contentsOf: transactionID)
            return bytes
        }
        if let integrityKey {
            let mac = HMAC<Insecure.SHA1>.authenticationCode(for: header(length: body.count + 24) + body,
                                                             using: SymmetricKey(data: integrityKey))
            Self.append(AttributeType.messageIntegrity, Array(mac), to: &body)
        }
        if fingerprint {
            let crc = CRC32.checksum(header(length: body.count + 8) + body) ^ Self.fingerprintXOR
            Self.append(AttributeType.fingerprint, [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)],
                        to: &body)
        }
        return header(length: body.count) + body
    }

    private static func append(_ type: UInt16, _ value: [UInt8], to body: inout [UInt8]) {
        body.append(contentsOf: [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(value.count >> 8), UInt8(value.count & 0xFF)])
        body.append(contentsOf: value)
        body.append(contentsOf: [UInt8](repeating: 0, count: (4 - value.count % 4) % 4))
    }

    /// An XOR-MAPPED-ADDRESS value (RFC 8489 §14.2): `address` is 4 (IPv4) or 16 (IPv6) bytes.
    public static func xorMappedAddress(address: [UInt8], port: UInt16, transactionID: [UInt8]) -> [UInt8] {
        let cookie: [UInt8] = [0x21, 0x12, 0xA4, 0x42]
        let xorPort = port ^ 0x2112
        var value: [UInt8] = [0, address.count == 16 ? 0x02 : 0x01, UInt8(xorPort >> 8), UInt8(xorPort & 0xFF)]
        let mask = cookie + transactionID
        for (index, byte) in address.enumerated() { value.append(byte ^ mask[index]) }
        return value
    }
}
