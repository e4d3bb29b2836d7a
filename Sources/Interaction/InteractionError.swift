/// The error every domain operation throws: a stable `code` for the wire and a human `message`.
///
/// A rejected request changes nothing in the room; the server answers it with an `error` frame carrying both.
public struct InteractionError: Error, Sendable, Hashable {
    public var code: ErrorCode
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    static func notFound(_ what: String, _ id: String) -> InteractionError {
        InteractionError(.notFound, "no \(what) '\(id)'")
    }

    static func invalidState(_ message: String) -> InteractionError {
        InteractionError(.invalidState, message)
    }

    static func badRequest(_ message: String) -> InteractionError {
        InteractionError(.badRequest, message)
    }
}
