/// A hand-written reader for the one frame a vote burst brings by the hundred thousand —
/// `{"v":1,"type":"poll.vote","id":"r7","pollID":"p1","choices":[0]}` — that skips building a `JSONDecoder` per frame.
///
/// It answers only for a frame it is sure of: one flat object whose keys are `v`, `type`, `id`, `pollID` and `choices`
/// (each at most once, in any order, `type` and `pollID` and `choices` present), strings without escapes, `v` exactly
/// `1`, choices as small non-negative integers. Anything else — an escape, another key, a number it does not read
/// as JSON would, a syntax error — gives nil, and the caller decodes the frame the general way, which also words
/// every error. So the result, when there is one, is the value `JSONDecoder` reads from the same bytes.
enum FastVoteDecoder {
    /// Longest `id` or `pollID` taken here (longer ones go the general way).
    static let maximumStringBytes = 128
    /// Most choices taken here.
    static let maximumChoices = 64

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> ClientRequest? {
        var reader = Reader(bytes: bytes)
        var id: String?
        var pollID: String?
        var choices: [Int]?
        var sawType = false
        var sawVersion = false

        reader.skipSpace()
        guard reader.take(UInt8(ascii: "{")) else { return nil }
        reader.skipSpace()
        if reader.peek == UInt8(ascii: "}") { return nil }
        while true {
            guard let key = reader.plainString() else { return nil }
            reader.skipSpace()
            guard reader.take(UInt8(ascii: ":")) else { return nil }
            reader.skipSpace()
            switch key {
            case "type":
                guard !sawType, reader.plainString() == "poll.vote" else { return nil }
                sawType = true
            case "v":
                guard !sawVersion, reader.integer() == ClientRequest.protocolVersion else { return nil }
                sawVersion = true
            case "id":
                guard id == nil, let value = reader.plainString() else { return nil }
                id = value
            case "pollID":
                guard pollID == nil, let value = reader.plainString() else { return nil }
                pollID = value
            case "choices":
                guard choices == nil, let value = reader.integerArray() else { return nil }
                choices = value
            default:
                return nil
            }
            reader.skipSpace()
            if reader.take(UInt8(ascii: ",")) {
                reader.skipSpace()
                continue
            }
            guard reader.take(UInt8(ascii: "}")) else { return nil }
            break
        }
        reader.skipSpace()
        guard reader.atEnd, sawType, let pollID, let choices else { return nil }
        return ClientRequest(id: id, .pollVote(.init(pollID: pollID, choices: choices)))
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var atEnd: Bool { index >= bytes.count }
        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func take(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            index += 1
            return true
        }

        mutating func skipSpace() {
            while let byte = peek, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
        }

        /// A string with no escapes and no control characters; nil otherwise (the general decoder reads those).
        mutating func plainString() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while let byte = peek {
                if byte == UInt8(ascii: "\"") {
                    let length = index - start
                    guard length <= FastVoteDecoder.maximumStringBytes else { return nil }
                    index += 1
                    // Validating: a frame that is not UTF-8 goes the general way (and is refused there).
                    return String(validating: UnsafeBufferPointer(rebasing: bytes[start..<(start + length)]), as: UTF8.self)
                }
                guard byte != UInt8(ascii: "\\"), byte >= 0x20 else { return nil }
                index += 1
            }
            return nil
        }

        /// A non-negative integer of at most 9 digits, without a sign, fraction, exponent or leading zero.
        mutating func integer() -> Int? {
            let start = index
            var value = 0
            while let byte = peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                index += 1
                guard index - start <= 9 else { return nil }
            }
            let length = index - start
            guard length > 0, length == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
            // A fraction or exponent makes it a number this reader does not take.
            if let byte = peek, byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { return nil }
            return value
        }

        mutating func integerArray() -> [Int]? {
            guard take(UInt8(ascii: "[")) else { return nil }
            var values: [Int] = []
            skipSpace()
            if take(UInt8(ascii: "]")) { return values }
            while true {
                skipSpace()
                guard let value = integer(), values.count < FastVoteDecoder.maximumChoices else { return nil }
                values.append(value)
                skipSpace()
                if take(UInt8(ascii: ",")) { continue }
                guard take(UInt8(ascii: "]")) else { return nil }
                return values
            }
        }
    }
}
