import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The event log in PostgreSQL (postgres-nio's connection pool): the same tables as SQLite's, migrated at start
/// under an advisory lock so several nodes starting at once migrate once. Every call is asynchronous on the pool's
/// event loops; a batch of records is one `INSERT … SELECT FROM unnest(…)` statement.
public final class PostgresEventLog: EventLog {
    let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger

    /// Connects to `url` (`postgres://user[:password]@host[:port]/database`) with a pool of up to `connections`,
    /// and migrates the schema.
    public init(url: String, connections: Int = 8, logger: Logger = Logger(label: "liveloop.postgres")) async throws {
        var configuration = try PostgresURL.configuration(url)
        configuration.options.maximumConnections = max(connections, 1)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        runner = Task { await client.run() }
        do {
            try await migrate()
        } catch {
            runner.cancel()
            throw error
        }
    }

    /// Closes the pool's connections.
    public func close() {
        runner.cancel()
    }

    deinit {
        runner.cancel()
    }

    static let migrations: [(name: String, sql: [String])] = [
        ("event log v1", [
            "CREATE TABLE event (id BIGSERIAL PRIMARY KEY, channel TEXT NOT NULL, payload BYTEA NOT NULL, at DOUBLE PRECISION NOT NULL)",
            "CREATE INDEX event_channel ON event (channel, id)",
        ]),
        ("room checkpoints v1", [
            "CREATE TABLE room_checkpoint (channel TEXT PRIMARY KEY, through_id BIGINT NOT NULL, body BYTEA NOT NULL)",
        ]),
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

    @discardableResult
    public func appendEvents(_ batch: [(channel: String, payload: Data)]) async throws -> [String: Int64] {
        guard !batch.isEmpty else { return [:] }
        let channels = batch.map(\.channel)
        let payloads = batch.map { ByteBuffer(data: $0.payload) }
        let now = Date().timeIntervalSince1970
        // unnest … WITH ORDINALITY keeps the batch's order in the ids.
        let rows = try await client.query("""
            INSERT INTO event (channel, payload, at)
            SELECT c, p, \(now) FROM unnest(\(channels)::text[], \(payloads)::bytea[]) WITH ORDINALITY AS b(c, p, n) ORDER BY n
            RETURNING id, channel
            """, logger: logger)
        var last: [String: Int64] = [:]
        for try await (id, channel) in rows.decode((Int64, String).self) {
            last[channel] = max(last[channel] ?? 0, id)
        }
        return last
    }

    public func roomLog(channel: String) async throws -> RoomLog {
        try await client.withConnection { connection in
            var checkpoint: Data?
            var through: Int64 = 0
            let stored = try await connection.query(
                "SELECT through_id, body FROM room_checkpoint WHERE channel = \(channel)", logger: logger)
            for try await (id, body) in stored.decode((Int64, ByteBuffer).self) {
                through = id
                checkpoint = Data(buffer: body)
            }
            var records: [Data] = []
            var lastID = through
            let tail = try await connection.query(
                "SELECT id, payload FROM event WHERE channel = \(channel) AND id > \(through) ORDER BY id", logger: logger)
            for try await (id, payload) in tail.decode((Int64, ByteBuffer).self) {
                records.append(Data(buffer: payload))
                lastID = id
            }
            return RoomLog(checkpoint: checkpoint, checkpointThrough: through, records: records, lastID: lastID)
        }
    }

    public func records(channel: String, after: Int64) async throws -> [Data] {
        var records: [Data] = []
        let rows = try await client.query(
            "SELECT payload FROM event WHERE channel = \(channel) AND id > \(after) ORDER BY id", logger: logger)
        for try await payload in rows.decode(ByteBuffer.self) { records.append(Data(buffer: payload)) }
        return records
    }

    public func saveCheckpoint(channel: String, through: Int64, body: Data) async throws {
        try await client.query("""
            INSERT INTO room_checkpoint (channel, through_id, body) VALUES (\(channel), \(through), \(ByteBuffer(data: body)))
            ON CONFLICT (channel) DO UPDATE SET through_id = excluded.through_id, body = excluded.body
            WHERE excluded.through_id > room_checkpoint.through_id
            """, logger: logger)
    }

    public func deleteEvents(channel: String) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("DELETE FROM event WHERE channel = \(channel)", logger: logger)
            try await connection.query("DELETE FROM room_checkpoint WHERE channel = \(channel)", logger: logger)
        }
    }
}

/// Reads a `postgres://` (or `postgresql://`) URL into a client configuration. TLS is off for loopback hosts and
/// preferred elsewhere; `?sslmode=disable` or `require` chooses explicitly.
enum PostgresURL {
    struct Invalid: Error, CustomStringConvertible {
        let reason: String
        var description: String { "invalid database URL: \(reason)" }
    }

    static func configuration(_ url: String) throws -> PostgresClient.Configuration {
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
