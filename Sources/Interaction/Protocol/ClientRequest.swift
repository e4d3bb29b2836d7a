import Foundation

/// One decoded client frame: the optional request `id` (echoed in the `ack` or `error` that answers it) and the message.
///
/// Use `decode(_:maxBytes:)` on every text frame: it never throws, and a rejection carries the `error` frame to send
/// back (with the request's `id` whenever the envelope was readable enough to have one).
public struct ClientRequest: Sendable, Hashable {
    /// The protocol version this module speaks (`v` in every envelope).
    public static let protocolVersion = 1
    /// The default largest frame accepted, in bytes (16 KiB: a 500-character message is at most ~2 KiB of UTF-8).
    public static let defaultMaxFrameBytes = 16 * 1024

    public var id: String?
    public var message: ClientMessage

    public init(id: String? = nil, _ message: ClientMessage) {
        self.id = id
        self.message = message
    }

    /// Why a frame was refused, and the `error` frame that says so.
    public struct Rejection: Error, Sendable, Hashable {
        public var id: String?
        public var error: InteractionError
        /// The reply to send to the client.
        public var reply: ServerEnvelope { ServerEnvelope(id: id, .error(.init(error))) }
    }

    /// Decodes a JSON text frame. Errors: `too_large` beyond `maxBytes`, `bad_request` for malformed JSON or a bad
    /// field, `unsupported_version` for a `v` other than 1, `unknown_type` for an unknown `type`.
    public static func decode(_ data: Data, maxBytes: Int = defaultMaxFrameBytes) -> Result<ClientRequest, Rejection> {
        guard data.count <= maxBytes else {
            return .failure(Rejection(id: nil, error: InteractionError(.tooLarge, "frame exceeds \(maxBytes) bytes")))
        }
        if let vote = data.withUnsafeBytes({ FastVoteDecoder.decode($0.bindMemory(to: UInt8.self)) }) { return .success(vote) }
        return decodeGenerally(data)
    }

    /// Every frame the fast vote reader does not take: `JSONDecoder`, with an error that says what is wrong.
    static func decodeGenerally(_ data: Data) -> Result<ClientRequest, Rejection> {
        let frame: Frame
        do {
            frame = try JSONDecoder().decode(Frame.self, from: data)
        } catch {
            return .failure(Rejection(id: nil, error: .badRequest("malformed JSON: expected an object with a string \"type\"")))
        }
        switch frame.outcome {
        case .success(let message): return .success(ClientRequest(id: frame.id, message))
        case .failure(let error): return .failure(Rejection(id: frame.id, error: error))
        }
    }

    /// Decodes a JSON text frame given as a string.
    public static func decode(_ text: String, maxBytes: Int = defaultMaxFrameBytes) -> Result<ClientRequest, Rejection> {
        if text.utf8.count <= maxBytes, let vote = text.utf8.withContiguousStorageIfAvailable(FastVoteDecoder.decode) ?? nil {
            return .success(vote)
        }
        return decode(Data(text.utf8), maxBytes: maxBytes)
    }

    /// The JSON text of this request (for clients and tests).
    public func jsonData() throws -> Data {
        try JSONEncoder().encode(Frame(id: id, outcome: .success(message)))
    }

    enum HeaderKeys: String, CodingKey {
        case v, type, id
    }

    /// The envelope: decoding never throws past the header, so the `id` survives a bad payload.
    struct Frame: Codable {
        var id: String?
        var outcome: Result<ClientMessage, InteractionError>

        init(id: String?, outcome: Result<ClientMessage, InteractionError>) {
            self.id = id
            self.outcome = outcome
        }

        init(from decoder: any Decoder) throws {
            let header = try decoder.container(keyedBy: HeaderKeys.self)
            id = try? header.decodeIfPresent(String.self, forKey: .id)
            let version = try? header.decodeIfPresent(Int.self, forKey: .v)
            guard let type = try? header.decode(String.self, forKey: .type) else {
                outcome = .failure(.badRequest("missing or non-string \"type\""))
                return
            }
            if header.contains(.v), version != ClientRequest.protocolVersion {
                outcome = .failure(InteractionError(.unsupportedVersion, "protocol version \(ClientRequest.protocolVersion) only"))
                return
            }
            guard let kind = ClientMessage.Kind(rawValue: type) else {
                outcome = .failure(InteractionError(.unknownType, "unknown message type \"\(type.prefix(64))\""))
                return
            }
            do {
                outcome = .success(try ClientMessage.decode(kind, from: decoder))
            } catch let error as DecodingError {
                outcome = .failure(.badRequest("\(kind.rawValue): \(error.fieldDescription)"))
            } catch {
                outcome = .failure(.badRequest("\(kind.rawValue): invalid payload"))
            }
        }

        func encode(to encoder: any Encoder) throws {
            guard case .success(let message) = outcome else { return }
            var header = encoder.container(keyedBy: HeaderKeys.self)
            try header.encode(ClientRequest.protocolVersion, forKey: .v)
            try header.encode(message.kind.rawValue, forKey: .type)
            try header.encodeIfPresent(id, forKey: .id)
            try message.encodePayload(to: encoder)
        }
    }
}

extension DecodingError {
    /// A short, client-safe description naming the field at fault.
    var fieldDescription: String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch self {
        case .keyNotFound(let key, let context): return "missing field \"\(path(context.codingPath + [key]))\""
        case .typeMismatch(_, let context): return "wrong type for \"\(path(context.codingPath))\""
        case .valueNotFound(_, let context): return "null for \"\(path(context.codingPath))\""
        case .dataCorrupted(let context): return "invalid value for \"\(path(context.codingPath))\""
        @unknown default: return "invalid payload"
        }
    }
}
