import Foundation

/// A channel: a name viewers see in URLs, and a stream key (held only as a hash) that lets an encoder publish to it.
public struct Channel: Codable, Sendable, Equatable {
    public var name: String
    public var createdAt: Date
    /// Viewers without a token may join the room as guests (read and react). Off for a new channel: the operator
    /// turns it on with the channel's settings (`allowAnonymous`).
    public var allowAnonymous: Bool
    /// The tenant that owns the channel (`Tenant.defaultID` for channels made without one).
    public var tenantID: String

    public init(name: String, createdAt: Date, allowAnonymous: Bool = false, tenantID: String = Tenant.defaultID) {
        self.name = name
        self.createdAt = createdAt
        self.allowAnonymous = allowAnonymous
        self.tenantID = tenantID
    }

    /// Names a channel cannot have: `/live/whip` is the WHIP go-live endpoint, so a channel called `whip` would share
    /// its URLs.
    public static let reservedNames: Set<String> = ["whip"]

    /// 1–64 characters of a–z, 0–9, '-' and '_', starting with a letter or digit (safe in URLs, paths and logs), and
    /// not one of `reservedNames`.
    public static func isValidName(_ name: String) -> Bool {
        isWellFormedName(name) && !reservedNames.contains(name)
    }

    /// 1–64 characters of a–z, 0–9, '-' and '_', starting with a letter or digit.
    public static func isWellFormedName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, (1...64).contains(name.unicodeScalars.count) else { return false }
        func allowed(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("0"..."9").contains(c) }
        return allowed(first) && name.unicodeScalars.allSatisfy { allowed($0) || $0 == "-" || $0 == "_" }
    }
}
