/// Hand-written JSON for the two frames a vote burst produces by the hundred thousand — the `vote` record and the
/// bare `ack` — byte-for-byte what `JSONDecoder` reads back as the same values (tested against it), without building
/// an encoder per frame.
public enum FastJSON {
    /// `{"vote":{"pollID":…,"sub":…,"choices":[…],"at":…}}`: `Record.vote` as the store keeps it.
    public static func voteRecord(pollID: String, sub: String, choices: Choices, at: Timestamp) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + pollID.utf8.count + sub.utf8.count)
        out.append(contentsOf: #"{"vote":{"pollID":"#.utf8)
        appendString(pollID, to: &out)
        out.append(contentsOf: #","sub":"#.utf8)
        appendString(sub, to: &out)
        out.append(contentsOf: #","choices":["#.utf8)
        var first = true
        choices.forEachIndex { index in
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(contentsOf: String(index).utf8)
        }
        out.append(contentsOf: #"],"at":"#.utf8)
        out.append(contentsOf: String(at.unixMilliseconds).utf8)
        out.append(contentsOf: "}}".utf8)
        return out
    }

    /// `{"v":1,"type":"ack","id":…}`: the answer to an accepted request with nothing to report.
    public static func ack(id: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32 + id.utf8.count)
        out.append(contentsOf: #"{"v":1,"type":"ack","id":"#.utf8)
        appendString(id, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `{"type":…,"seq":…,"ref":…}`: the payload of a cue written into the video (`emsg` message data).
    public static func cuePayload(type: String, seq: UInt64, ref: String?) -> [UInt8] {
        var out: [UInt8] = []
        out.append(contentsOf: #"{"type":"#.utf8)
        appendString(type, to: &out)
        out.append(contentsOf: #","seq":"#.utf8)
        out.append(contentsOf: String(seq).utf8)
        if let ref {
            out.append(contentsOf: #","ref":"#.utf8)
            appendString(ref, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped, everything else as UTF-8.
    static func appendString(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
