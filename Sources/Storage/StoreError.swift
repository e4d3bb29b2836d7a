/// Errors of the store that a user can act on; each maps to one API error code.
public enum StoreError: Error, Equatable, Sendable {
    case invalidChannelName(String)
    case channelExists(String)
    case channelNotFound(String)
    /// The data directory path names something that is not a directory (or the database file could not be created).
    case notADirectory(String)
    case invalidTenantName(String)
    case tenantExists(String)
    case tenantNotFound(String)
    /// The tenant still has channels (delete them first), or it is the default tenant.
    case tenantNotEmpty(String, channels: Int)
    case defaultTenant
    case keyNotFound(String)
    /// A tenant quota (`channels`, `viewers`, `publishers`) is reached.
    case quotaExceeded(quota: String, limit: Int)
    case invalidQuota
    /// As many webhooks as the server allows exist already.
    case webhookLimit(Int)
}

extension StoreError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .invalidChannelName(name):
            Channel.reservedNames.contains(name)
                ? "the channel name \"\(name)\" is reserved (/live/\(name) is the WHIP endpoint): choose another"
                : "invalid channel name \"\(name)\": use 1–64 characters a–z, 0–9, '-' or '_', starting with a letter or digit"
        case let .channelExists(name): "channel \"\(name)\" already exists"
        case let .channelNotFound(name): "channel \"\(name)\" not found"
        case let .notADirectory(path): "cannot use \"\(path)\" as the data directory"
        case let .invalidTenantName(name):
            "invalid tenant name \"\(name)\": use 1–64 characters a–z, 0–9, '-' or '_', starting with a letter or digit"
        case let .tenantExists(name): "tenant \"\(name)\" already exists"
        case let .tenantNotFound(name): "tenant \"\(name)\" not found"
        case let .tenantNotEmpty(name, channels):
            "tenant \"\(name)\" still has \(channels) channel\(channels == 1 ? "" : "s"); delete them first"
        case .defaultTenant: "the default tenant cannot be deleted"
        case let .keyNotFound(id): "API key \"\(id)\" not found"
        case let .quotaExceeded(quota, limit): "this tenant's quota of \(limit) \(quota) is reached"
        case .invalidQuota: "quotas must be whole numbers from 0 to \(TenantQuotas.maximum)"
        case let .webhookLimit(limit): "there are \(limit) webhooks already, the most this server keeps; delete one first"
        }
    }
}
