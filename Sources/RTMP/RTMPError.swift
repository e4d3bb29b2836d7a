/// Why an RTMP connection was closed. Each case is one log line; none of them affects another connection.
public enum RTMPError: Error, Equatable, Sendable {
    case unsupportedVersion(UInt8)
    case chunkTooLarge(Int, limit: Int)
    case messageTooLarge(Int, limit: Int)
    case tooManyChunkStreams(limit: Int)
    case bufferedTooMuch(Int, limit: Int)
    case continuationWithoutHeader(chunkStream: UInt32)
    case unknownMessageType(UInt8)
    case malformedMessage(String)
    case malformedAMF0(String)
    case protocolViolation(String)
}

extension RTMPError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .unsupportedVersion(v): "unsupported RTMP version \(v)"
        case let .chunkTooLarge(n, limit): "chunk size \(n) exceeds the limit of \(limit) bytes"
        case let .messageTooLarge(n, limit): "message of \(n) bytes exceeds the limit of \(limit) bytes"
        case let .tooManyChunkStreams(limit): "more than \(limit) chunk streams with partial messages"
        case let .bufferedTooMuch(n, limit): "\(n) bytes of partial messages exceed the limit of \(limit)"
        case let .continuationWithoutHeader(cs): "chunk stream \(cs) continued before any header"
        case let .unknownMessageType(t): "unknown message type \(t)"
        case let .malformedMessage(what): "malformed message: \(what)"
        case let .malformedAMF0(what): "malformed AMF0: \(what)"
        case let .protocolViolation(what): "protocol violation: \(what)"
        }
    }
}
