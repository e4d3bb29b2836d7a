import NIOCore

/// Finds where an HTTP/1.1 request head ends in the raw bytes of a connection (RFC 9112 §2.1: the empty line after
/// the header fields), counting its size on the way, so a head that is too large is refused before any parser holds
/// it. Accepts a bare LF as a line end, as the parser behind it does. Pure: bytes in, a verdict out.
struct RequestHeadScanner {
    enum Verdict: Equatable {
        /// The head is not complete yet.
        case incomplete
        /// The head ended; the bytes after it in this read are a body or the next protocol's.
        case complete
        /// The head passed the byte limit without ending.
        case tooLarge
    }

    let limit: Int
    private(set) var seen = 0
    /// Whether the bytes so far end a line, with nothing else on the current one (ignoring a CR).
    private var atLineStart = false

    init(limit: Int) {
        self.limit = limit
    }

    /// Looks at the next bytes of the connection.
    mutating func scan(_ bytes: ByteBuffer) -> Verdict {
        for byte in bytes.readableBytesView {
            seen += 1
            switch byte {
            case UInt8(ascii: "\n"):
                // The first line end of the head cannot end it: a request line comes first.
                if atLineStart, seen > 2 { return .complete }
                atLineStart = true
            case UInt8(ascii: "\r"):
                break
            default:
                atLineStart = false
            }
            if seen > limit { return .tooLarge }
        }
        return .incomplete
    }
}
