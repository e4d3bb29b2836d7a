import NIOCore

/// Follows the frame boundaries of a WebSocket connection's raw inbound bytes and checks the one rule the frame
/// decoder behind it does not: every frame a client sends is masked (RFC 6455 §5.1 — a server must close the
/// connection, 1002, on an unmasked frame). Only headers are read; payloads are skipped by length. Pure: bytes in, a
/// verdict out.
struct WebSocketMaskCheck {
    enum Verdict: Equatable {
        case ok
        case unmasked
    }

    /// Payload bytes (and the 4-byte mask key) of the current frame not seen yet.
    private var remaining: UInt64 = 0
    /// The first bytes of a frame header that a read split.
    private var partialHeader: [UInt8] = []

    mutating func scan(_ bytes: ByteBuffer) -> Verdict {
        var view = bytes.readableBytesView[...]
        while let byte = view.first {
            if remaining > 0 {
                let skip = Int(min(remaining, UInt64(view.count)))
                view = view.dropFirst(skip)
                remaining -= UInt64(skip)
                continue
            }
            // A header, byte by byte: 2 bytes, then 2 or 8 of extended length.
            partialHeader.append(byte)
            view = view.dropFirst()
            guard partialHeader.count >= 2 else { continue }
            if partialHeader[1] & 0x80 == 0 { return .unmasked }
            let extended = switch partialHeader[1] & 0x7F {
            case 126: 2
            case 127: 8
            default: 0
            }
            guard partialHeader.count == 2 + extended else { continue }
            let length = extended == 0
                ? UInt64(partialHeader[1] & 0x7F)
                : partialHeader.dropFirst(2).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            remaining = length &+ 4
            partialHeader.removeAll(keepingCapacity: true)
        }
        return .ok
    }
}
