import Foundation
import PostgresNIO

/// Token revocations and signing-secret rotation in PostgreSQL, as `SQLiteStore+Tokens` does them in SQLite; one
/// revocation table for every node, so a token revoked on one node is refused on all.
extension PostgresStore {
    @discardableResult
    public func revoke(_ scope: Revocation.Scope, at now: Date, expiresAt: Date) async throws -> Revocation {
        let (kind, jti, sub, channel): (String, String?, String?, String?) = switch scope {
        case .token(let jti): ("token", jti, nil, nil)
        case .subject(let sub, let channel): ("subject", nil, sub, channel)
        case .channel(let channel): ("channel", nil, nil, channel)
        }
        let rows = try await client.query("""
            INSERT INTO revocation (kind, jti, sub, channel, revoked_at, expires_at)
            VALUES (\(kind), \(jti), \(sub), \(channel), \(now.timeIntervalSince1970), \(expiresAt.timeIntervalSince1970))
            RETURNING id
            """, logger: logger)
        var id: Int64 = 0
        for try await value in rows.decode(Int64.self) { id = value }
        return Revocation(id: id, scope: scope, revokedAt: now, expiresAt: expiresAt)
    }

    public func isRevoked(jti: String, sub: String, channel: String, issuedAt: Date) async throws -> Bool {
        let issued = issuedAt.timeIntervalSince1970
        return try await Self.any(client.query("""
            SELECT 1 FROM revocation WHERE (kind = 'token' AND jti = \(jti))
            OR (kind = 'subject' AND channel IN (\(channel), '*') AND sub = \(sub) AND revoked_at >= \(issued))
            OR (kind = 'channel' AND channel IN (\(channel), '*') AND revoked_at >= \(issued))
            LIMIT 1
            """, logger: logger))
    }

    public func revocations(after: Int64, limit: Int) async throws -> [Revocation] {
        let rows = try await client.query("""
            SELECT id, kind, jti, sub, channel, revoked_at, expires_at FROM revocation WHERE id > \(after) ORDER BY id LIMIT \(limit)
            """, logger: logger)
        var revocations: [Revocation] = []
        for try await (id, kind, jti, sub, channel, revokedAt, expiresAt)
            in rows.decode((Int64, String, String?, String?, String?, Double, Double).self) {
            let scope: Revocation.Scope
            switch (kind, jti, sub, channel) {
            case ("token", let jti?, _, _): scope = .token(jti: jti)
            case ("subject", _, let sub?, let channel?): scope = .subject(sub: sub, channel: channel)
            case ("channel", _, _, let channel?): scope = .channel(channel)
            default: continue
            }
            revocations.append(Revocation(id: id, scope: scope, revokedAt: Date(timeIntervalSince1970: revokedAt),
                                          expiresAt: Date(timeIntervalSince1970: expiresAt)))
        }
        return revocations
    }

    public func latestRevocationID() async throws -> Int64 {
        var latest: Int64 = 0
        for try await value in try await client.query("SELECT MAX(id) FROM revocation", logger: logger).decode(Int64?.self) {
            latest = value ?? 0
        }
        return latest
    }

    @discardableResult
    public func pruneRevocations(at now: Date) async throws -> Int {
        var count = 0
        let rows = try await client.query(
            "DELETE FROM revocation WHERE expires_at < \(now.timeIntervalSince1970) RETURNING id", logger: logger)
        for try await _ in rows { count += 1 }
        return count
    }

    @discardableResult
    public func rotateSecret(named name: String, overlap: TimeInterval, at now: Date) async throws -> Data {
        var generator = SystemRandomNumberGenerator()
        let fresh = Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let logger = logger
        try await transaction { connection in
            var old: Data?
            for try await value in try await connection.query(
                "SELECT value FROM setting WHERE key = \(name) FOR UPDATE", logger: logger).decode(Data.self) {
                old = value
            }
            if let old, overlap > 0 {
                try await connection.query("""
                    INSERT INTO retired_secret (name, secret, retires_at) VALUES (\(name), \(old), \(now.addingTimeInterval(overlap).timeIntervalSince1970))
                    """, logger: logger)
            }
            try await connection.query("""
                INSERT INTO setting (key, value) VALUES (\(name), \(fresh)) ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """, logger: logger)
            try await connection.query("DELETE FROM retired_secret WHERE retires_at <= \(now.timeIntervalSince1970)", logger: logger)
        }
        return fresh
    }

    public func retiredSecrets(named name: String, at now: Date) async throws -> [RetiredSecret] {
        let rows = try await client.query(
            "SELECT secret, retires_at FROM retired_secret WHERE name = \(name) AND retires_at > \(now.timeIntervalSince1970)",
            logger: logger)
        var secrets: [RetiredSecret] = []
        for try await (secret, retiresAt) in rows.decode((Data, Double).self) {
            secrets.append(RetiredSecret(secret: secret, retiresAt: Date(timeIntervalSince1970: retiresAt)))
        }
        return secrets
    }
}
