import Foundation

/// The one range of a `Range: bytes=…` request header (RFC 9110 §14.1.2), resolved against a file's size.
///
/// Only a single range is honoured (what HLS players send for `EXT-X-BYTERANGE`); a header this does not read — a
/// list of ranges, another unit, a malformed value — is ignored and the whole file is sent, as §14.2 allows.
enum ByteRange: Equatable, Sendable {
    /// Send these bytes (206).
    case partial(ClosedRange<Int>)
    /// No range asked for, or one we ignore: send everything (200).
    case whole
    /// The range starts past the end (416).
    case unsatisfiable

    init(header: String?, size: Int) {
        guard let header, header.hasPrefix("bytes=") else { self = .whole; return }
        let spec = header.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { self = .whole; return }
        let first = spec[..<dash]
        let last = spec[spec.index(after: dash)...]
        func number(_ text: Substring) -> Int? {
            guard !text.isEmpty, text.count <= 18, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(text)
        }
        if first.isEmpty {
            // A suffix: the last N bytes.
            guard let suffix = number(last) else { self = .whole; return }
            guard suffix > 0, size > 0 else { self = .unsatisfiable; return }
            self = .partial(max(0, size - suffix)...(size - 1))
            return
        }
        guard let start = number(first) else { self = .whole; return }
        var end = size - 1
        if !last.isEmpty {
            guard let value = number(last), value >= start else { self = .whole; return }
            end = min(value, size - 1)
        }
        guard start < size else { self = .unsatisfiable; return }
        self = .partial(start...end)
    }
}
