/// Errors of the store that a user can act on; each maps to one API error code.
public enum StoreError: Error, Equatable, Sendable {
    case invalidChannelName(String)
    case channelExists(String)
    case channelNotFound(String)
    /// The data directory path names something that is not a directory (or the database file could not be created).
    case notADirectory(String)
    /// As many webhooks as the server allows exist already.
    case webhookLimit(Int)
}

extension StoreError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .invalidChannelName(name):
            "invalid channel name \"\(name)\": use 1–64 characters a–z, 0–9, '-' or '_', starting with a letter or digit"
        case let .channelExists(name): "channel \"\(name)\" already exists"
        case let .channelNotFound(name): "channel \"\(name)\" not found"
        case let .notADirectory(path): "cannot use \"\(path)\" as the data directory"
        case let .webhookLimit(limit): "there are \(limit) webhooks already, the most this server keeps; delete one first"
        }
    }
}
