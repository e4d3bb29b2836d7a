import Foundation

/// A tenant: one customer of the operator. It owns channels and API keys; its keys see only its own channels (and
/// their tokens), and its quotas bound what its channels may use of the server.
public struct Tenant: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var createdAt: Date
    public var quotas: TenantQuotas

    public init(id: String, name: String, createdAt: Date, quotas: TenantQuotas = TenantQuotas()) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.quotas = quotas
    }

    /// The tenant every channel made before tenants existed belongs to (created by the migration), and the one a
    /// channel made without naming a tenant goes to. It cannot be deleted.
    public static let defaultID = "tn_default"
    public static let defaultName = "default"

    /// Tenant names follow the channel name rule: 1–64 of a–z, 0–9, '-', '_', starting with a letter or digit.
    public static func isValidName(_ name: String) -> Bool { Channel.isWellFormedName(name) }
}

/// What a tenant may use at once; nil is unlimited.
public struct TenantQuotas: Codable, Sendable, Equatable {
    /// Channels the tenant may have.
    public var maxChannels: Int?
    /// Viewer connections open at once on all its channels: interaction WebSockets (hosts and moderators not counted)
    /// and video WebSockets (`/live/CHANNEL/ws`).
    public var maxViewers: Int?
    /// Channels of the tenant with a publisher (RTMP or SRT) at once.
    public var maxPublishers: Int?

    public init(maxChannels: Int? = nil, maxViewers: Int? = nil, maxPublishers: Int? = nil) {
        self.maxChannels = maxChannels
        self.maxViewers = maxViewers
        self.maxPublishers = maxPublishers
    }

    /// Largest value a quota may be given (a bound on what a client may ask for, not a practical limit).
    public static let maximum = 10_000_000

    /// Whether every given quota is 0…`maximum`.
    public var isValid: Bool {
        [maxChannels, maxViewers, maxPublishers].allSatisfy { $0.map { (0...Self.maximum).contains($0) } ?? true }
    }
}

/// What an API key may do. `admin` (the tenant's administrator) includes the others; `channels:write` includes `read`.
public enum APIScope: String, Codable, Sendable, CaseIterable, Comparable {
    /// See the tenant's channels and their status.
    case read
    /// Create, change and delete the tenant's channels, rotate their stream keys, mint and revoke their tokens.
    case channelsWrite = "channels:write"
    /// Everything above, and manage the tenant's own API keys.
    case admin

    private var rank: Int {
        switch self {
        case .read: 0
        case .channelsWrite: 1
        case .admin: 2
        }
    }

    public static func < (a: APIScope, b: APIScope) -> Bool { a.rank < b.rank }
}

/// A tenant's API key as stored: never the key itself (only its hash, which is not part of this value).
public struct APIKey: Codable, Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var scopes: [APIScope]
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public init(id: String, tenantID: String, scopes: [APIScope], createdAt: Date, lastUsedAt: Date? = nil, revokedAt: Date? = nil) {
        self.id = id
        self.tenantID = tenantID
        self.scopes = scopes
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    /// Whether the key may do what `scope` allows (a higher scope includes the lower ones).
    public func allows(_ scope: APIScope) -> Bool { scopes.contains { $0 >= scope } }

    /// Prefix of tenant API keys (the operator's admin key is `ak_…`).
    public static let secretPrefix = "tk_"
}
