import Foundation
import GRDB

/// A revocation of tokens: one token by its `jti`, every token of a `sub` on a channel, or every token of a channel,
/// issued up to the moment it was made. Tokens issued later are not affected.
public struct Revocation: Sendable, Equatable {
    public enum Scope: Sendable, Equatable {
        /// The one token with this `jti`.
        case token(jti: String)
        /// Every token of `sub` presented on `channel` (`*`: on any channel) issued at or before `revokedAt`.
        case subject(sub: String, channel: String)
        /// Every token presented on `channel` (`*`: every token) issued at or before `revokedAt`.
        case channel(String)
    }

    /// Increases with every revocation (the server reads the ones after the last it saw).
    public var id: Int64
    public var scope: Scope
    public var revokedAt: Date
    /// When every token it covers has expired anyway: the record can be forgotten after this.
    public var expiresAt: Date

    public init(id: Int64 = 0, scope: Scope, revokedAt: Date, expiresAt: Date) {
        self.id = id
        self.scope = scope
        self.revokedAt = revokedAt
        self.expiresAt = expiresAt
    }

    /// Whether this revocation covers a token with these claims, presented on `channel`.
    public func covers(jti: String, sub: String, channel: String, issuedAt: Date) -> Bool {
        switch scope {
        case .token(let revoked): revoked == jti
        case .subject(let revokedSub, let revokedChannel):
            revokedSub == sub && (revokedChannel == channel || revokedChannel == "*") && issuedAt <= revokedAt
        case .channel(let revokedChannel):
            (revokedChannel == channel || revokedChannel == "*") && issuedAt <= revokedAt
        }
    }
}

/// A signing secret that was replaced and is still accepted until `retiresAt` (the rotation's overlap).
public struct RetiredSecret: Sendable, Equatable {
    public var secret: Data
    public var retiresAt: Date
}

extension SQLiteStore {
    static func registerTokens(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v5 token revocations and retired signing secrets") { db in
            try db.create(table: "revocation") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("kind", .text).notNull()
                t.column("jti", .text).indexed()
                t.column("sub", .text)
                t.column("channel", .text)
                t.column("revokedAt", .double).notNull()
                t.column("expiresAt", .double).notNull().indexed()
            }
            try db.create(index: "revocation_on_channel_sub", on: "revocation", columns: ["channel", "sub"])
            try db.create(table: "retiredSecret") { t in
                t.column("name", .text).notNull()
                t.column("secret", .blob).notNull()
                t.column("retiresAt", .double).notNull()
            }
        }
    }

    // MARK: Revocations

    /// Stores a revocation and returns it with its id.
    @discardableResult
    public func revoke(_ scope: Revocation.Scope, at now: Date = Date(), expiresAt: Date) throws -> Revocation {
        let (kind, jti, sub, channel): (String, String?, String?, String?) = switch scope {
        case .token(let jti): ("token", jti, nil, nil)
        case .subject(let sub, let channel): ("subject", nil, sub, channel)
        case .channel(let channel): ("channel", nil, nil, channel)
        }
        let id = try pool.write { db -> Int64 in
            try db.execute(
                sql: "INSERT INTO revocation (kind, jti, sub, channel, revokedAt, expiresAt) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [kind, jti, sub, channel, now.timeIntervalSince1970, expiresAt.timeIntervalSince1970]
            )
            return db.lastInsertedRowID
        }
        return Revocation(id: id, scope: scope, revokedAt: now, expiresAt: expiresAt)
    }

    /// Whether a token with these claims, presented on `channel`, is revoked. One indexed query: the server asks it on
    /// every authentication.
    public func isRevoked(jti: String, sub: String, channel: String, issuedAt: Date) throws -> Bool {
        let issued = issuedAt.timeIntervalSince1970
        return try pool.read { db in
            try Row.fetchOne(db, sql: """
                SELECT 1 FROM revocation WHERE (kind = 'token' AND jti = ?)
                OR (kind = 'subject' AND channel IN (?, '*') AND sub = ? AND revokedAt >= ?)
                OR (kind = 'channel' AND channel IN (?, '*') AND revokedAt >= ?)
                LIMIT 1
                """, arguments: [jti, channel, sub, issued, channel, issued]) != nil
        }
    }

    /// The revocations made after the one with id `after`, oldest first (at most `limit`).
    public func revocations(after: Int64, limit: Int = 1000) throws -> [Revocation] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, kind, jti, sub, channel, revokedAt, expiresAt FROM revocation WHERE id > ? ORDER BY id LIMIT ?
                """, arguments: [after, limit]).compactMap(Self.revocation)
        }
    }

    /// The id of the newest revocation (0 when there is none).
    public func latestRevocationID() throws -> Int64 {
        try pool.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM revocation") ?? 0 }
    }

    /// Forgets revocations whose tokens have all expired; returns how many.
    @discardableResult
    public func pruneRevocations(at now: Date = Date()) throws -> Int {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM revocation WHERE expiresAt < ?", arguments: [now.timeIntervalSince1970])
            return db.changesCount
        }
    }

    private static func revocation(_ row: Row) -> Revocation? {
        let scope: Revocation.Scope
        switch row["kind"] as String? {
        case "token":
            guard let jti: String = row["jti"] else { return nil }
            scope = .token(jti: jti)
        case "subject":
            guard let sub: String = row["sub"], let channel: String = row["channel"] else { return nil }
            scope = .subject(sub: sub, channel: channel)
        case "channel":
            guard let channel: String = row["channel"] else { return nil }
            scope = .channel(channel)
        default:
            return nil
        }
        return Revocation(id: row["id"], scope: scope, revokedAt: Date(timeIntervalSince1970: row["revokedAt"]),
                          expiresAt: Date(timeIntervalSince1970: row["expiresAt"]))
    }

    // MARK: Signing secret rotation

    /// Replaces the secret kept under `name` with a new random one. The old one is kept as retired until
    /// `now + overlap` (tokens it signed keep working that long); retired secrets past their time are deleted.
    /// Returns the new secret.
    @discardableResult
    public func rotateSecret(named name: String, overlap: TimeInterval, at now: Date = Date()) throws -> Data {
        var generator = SystemRandomNumberGenerator()
        let fresh = Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        try pool.write { db in
            if let old = try Data.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [name]),
               overlap > 0 {
                try db.execute(sql: "INSERT INTO retiredSecret (name, secret, retiresAt) VALUES (?, ?, ?)",
                               arguments: [name, old, now.addingTimeInterval(overlap).timeIntervalSince1970])
            }
            try db.execute(
                sql: "INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [name, fresh]
            )
            try db.execute(sql: "DELETE FROM retiredSecret WHERE retiresAt <= ?", arguments: [now.timeIntervalSince1970])
        }
        return fresh
    }

    /// The replaced secrets under `name` still accepted at `now`.
    public func retiredSecrets(named name: String, at now: Date = Date()) throws -> [RetiredSecret] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT secret, retiresAt FROM retiredSecret WHERE name = ? AND retiresAt > ?",
                             arguments: [name, now.timeIntervalSince1970])
                .map { RetiredSecret(secret: $0["secret"], retiresAt: Date(timeIntervalSince1970: $0["retiresAt"])) }
        }
    }
}
