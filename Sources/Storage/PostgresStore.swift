import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The store in PostgreSQL (postgres-nio's connection pool): the same data as SQLite's, in tables migrated at start
/// under an advisory lock so several nodes starting at once migrate once. Every call is asynchronous on the pool's
/// event loops. The event log is in `PostgresStore+EventLog.swift`, channels and settings in `+Channels`, tokens in
/// `+Tokens`, tenants and API keys in `+Tenants`, audience settings and signing keys in `+Audience`, webhooks in
/// `+Webhooks`, multistream destinations in `+Destinations`, the analytics reads of the event log in `+Analytics`.
public final class PostgresStore: Store {
    let client: PostgresClient
    private let runner: Task<Void, Never>
    let logger: Logger

    /// The database did not answer within the start-up timeout (down, unreachable, or refusing connections).
    public struct Unreachable: Error, CustomStringConvertible {
        public let target: String
        public let timeout: Duration
        public var description: String { "no answer from PostgreSQL at \(target) within \(timeout.components.seconds) s" }
    }

    /// Connects to `url` (`postgres://user[:password]@host[:port]/database`) with a pool of up to `connections`,
    /// and migrates the schema; `Unreachable` when that has not succeeded within `connectTimeout`.
    public init(url: String, connections: Int = 8, connectTimeout: Duration = .seconds(10),
                logger: Logger = Logger(label: "liveloop.postgres")) async throws {
        var configuration = try PostgresURL.configuration(url)
        configuration.options.maximumConnections = max(connections, 1)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        runner = Task { await client.run() }
        do {
            // The pool retries a refused connection for a long while; at start, a clear answer soon is better.
            let target = "\(configuration.host ?? "?"):\(configuration.port ?? 5432)"
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask { [self] in
                    try await migrate()
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: connectTimeout)
                    return false
                }
                let migrated = try await group.next() ?? false
                group.cancelAll()
                if !migrated { throw Unreachable(target: target, timeout: connectTimeout) }
            }
        } catch {
            runner.cancel()
            throw error
        }
    }

    /// Closes the pool's connections.
    public func close() async {
        runner.cancel()
        await runner.value
    }

    deinit {
        runner.cancel()
    }

    /// Runs `body` in one transaction; an error thrown inside comes out as itself (not wrapped in postgres-nio's
    /// transaction error), so a `StoreError` stays a `StoreError`.
    func transaction(_ body: (PostgresConnection) async throws -> Void) async throws {
        do {
            try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
    }

    /// Applied in order, each once, each in the start-up transaction. Never edit one that shipped: add another.
    static let migrations: [(name: String, sql: [String])] = [
        ("channels and settings v1", [
            """
            CREATE TABLE tenant (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at DOUBLE PRECISION NOT NULL,
                max_channels INTEGER, max_viewers INTEGER, max_publishers INTEGER)
            """,
            "INSERT INTO tenant (id, name, created_at) VALUES ('\(Tenant.defaultID)', '\(Tenant.defaultName)', extract(epoch FROM now()))",
            """
            CREATE TABLE channel (name TEXT PRIMARY KEY, stream_key_hash BYTEA NOT NULL UNIQUE,
                created_at DOUBLE PRECISION NOT NULL, allow_anonymous BOOLEAN NOT NULL DEFAULT FALSE,
                tenant_id TEXT NOT NULL REFERENCES tenant (id))
            """,
            "CREATE INDEX channel_on_tenant ON channel (tenant_id)",
            "CREATE TABLE setting (key TEXT PRIMARY KEY, value BYTEA NOT NULL)",
            "CREATE TABLE channel_settings (channel TEXT PRIMARY KEY, body BYTEA NOT NULL)",
            "CREATE TABLE channel_video (channel TEXT PRIMARY KEY REFERENCES channel (name) ON DELETE CASCADE, body BYTEA NOT NULL)",
            "CREATE TABLE rundown (channel TEXT PRIMARY KEY, body BYTEA NOT NULL, updated_at DOUBLE PRECISION NOT NULL)",
        ]),
        ("tokens v1", [
            """
            CREATE TABLE revocation (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, jti TEXT, sub TEXT, channel TEXT,
                revoked_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL)
            """,
            "CREATE INDEX revocation_on_jti ON revocation (jti)",
            "CREATE INDEX revocation_on_channel_sub ON revocation (channel, sub)",
            "CREATE INDEX revocation_on_expiry ON revocation (expires_at)",
            "CREATE TABLE retired_secret (name TEXT NOT NULL, secret BYTEA NOT NULL, retires_at DOUBLE PRECISION NOT NULL)",
        ]),
        ("event log v1", [
            "CREATE TABLE event (id BIGSERIAL PRIMARY KEY, channel TEXT NOT NULL, payload BYTEA NOT NULL, at DOUBLE PRECISION NOT NULL)",
            "CREATE INDEX event_channel ON event (channel, id)",
        ]),
        ("room checkpoints v1", [
            "CREATE TABLE room_checkpoint (channel TEXT PRIMARY KEY, through_id BIGINT NOT NULL, body BYTEA NOT NULL)",
        ]),
        ("api keys v1", [
            """
            CREATE TABLE api_key (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
                hash BYTEA NOT NULL UNIQUE, scopes TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
                revoked_at DOUBLE PRECISION, last_used_at DOUBLE PRECISION)
            """,
            "CREATE INDEX api_key_on_tenant ON api_key (tenant_id)",
        ]),
        ("channel audience v1", [
            // Cascading from the channel: one deleted and made again under the same name starts with no key.
            """
            CREATE TABLE channel_audience (channel TEXT PRIMARY KEY REFERENCES channel (name) ON DELETE CASCADE, body BYTEA,
                signing_key_id TEXT, signing_key TEXT, signing_key_created_at DOUBLE PRECISION)
            """,
        ]),
        webhookMigration,
        destinationMigration,
        claimMigration(.publisher, "publisher claims v1"),
        claimMigration(.room, "room claims v1"),
    ]

    private func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            // One migrator at a time across every node (the key is arbitrary, fixed for liveloop).
            try await connection.query("SELECT pg_advisory_xact_lock(7421550001)", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS liveloop_migration (name TEXT PRIMARY KEY)", logger: logger)
            var done: Set<String> = []
            for try await name in try await connection.query("SELECT name FROM liveloop_migration", logger: logger).decode(String.self) {
                done.insert(name)
            }
            for migration in Self.migrations where !done.contains(migration.name) {
                for statement in migration.sql {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO liveloop_migration (name) VALUES (\(migration.name))", logger: logger)
            }
        }
    }
}

/// Reads a `postgres://` (or `postgresql://`) URL into a client configuration. TLS is off for loopback hosts and
/// preferred elsewhere; `?sslmode=disable` or `require` chooses explicitly.
public enum PostgresURL {
    public struct Invalid: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { "invalid database URL: \(reason)" }
    }

    /// The URL with its password masked (`***`), for logs and messages.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "(unreadable URL)" }
        if components.password != nil { components.password = "***" }
        return components.string ?? "(unreadable URL)"
    }

    public static func configuration(_ url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), let scheme = components.scheme,
              scheme == "postgres" || scheme == "postgresql" else {
            throw Invalid(reason: "expected postgres://user@host[:port]/database")
        }
        guard let host = components.host, !host.isEmpty else { throw Invalid(reason: "no host") }
        guard let user = components.user, !user.isEmpty else { throw Invalid(reason: "no user") }
        let database = String(components.path.drop { $0 == "/" })
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value
        let loopback = host == "localhost" || host.hasPrefix("127.") || host == "::1"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "require": tls = .require(.makeClientConfiguration())
        case nil: tls = loopback ? .disable : .prefer(.makeClientConfiguration())
        default: tls = .prefer(.makeClientConfiguration())
        }
        return PostgresClient.Configuration(host: host, port: components.port ?? 5432, username: user,
                                            password: components.password, database: database.isEmpty ? nil : database, tls: tls)
    }
}
