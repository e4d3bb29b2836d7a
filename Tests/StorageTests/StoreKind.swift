import Foundation
import Logging
import PostgresNIO
import Storage
import Testing

/// The stores a `Store` test runs against: SQLite in a fresh temporary directory, and PostgreSQL in a fresh database
/// created on the server named by `LIVELOOP_TEST_POSTGRES` (`./scripts/test` starts a throw-away one with
/// `scripts/pg-temp`; the URL's user needs CREATEDB) and dropped after the test. Without that variable the PostgreSQL
/// leg fails, saying so, unless `LIVELOOP_SKIP_POSTGRES=1` asks to leave it out.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "no PostgreSQL for the tests: run eval \"$(scripts/pg-temp start)\" (sets LIVELOOP_TEST_POSTGRES), or set LIVELOOP_SKIP_POSTGRES=1"
        }
    }

    /// A name no other test (or earlier run on the same PostgreSQL) uses.
    static func name(_ prefix: String = "c") -> String {
        prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
    }

    /// One empty database of this kind; `open()` may be called more than once (two nodes, or a restart).
    struct TestDatabase: Sendable {
        let kind: StoreKind
        /// The SQLite directory or the PostgreSQL URL.
        let location: String

        func open() async throws -> any Store {
            switch kind {
            case .sqlite: try await SQLiteAsyncStore(directory: location)
            case .postgres: try await PostgresStore(url: location)
            }
        }
    }

    /// Runs `body` with a fresh database and removes it after; does nothing when the PostgreSQL leg is skipped.
    func withDatabase(_ body: (TestDatabase) async throws -> Void) async throws {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("liveloop-store-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            try await body(TestDatabase(kind: self, location: directory.path))
        case .postgres:
            let environment = ProcessInfo.processInfo.environment
            guard let url = environment["LIVELOOP_TEST_POSTGRES"], !url.isEmpty else {
                if environment["LIVELOOP_SKIP_POSTGRES"] == "1" { return }
                throw Missing()
            }
            let name = Self.name("t")
            try await Self.administer(url, "CREATE DATABASE \(name)")
            var components = try #require(URLComponents(string: url))
            components.path = "/" + name
            let location = try #require(components.string)
            do {
                try await body(TestDatabase(kind: self, location: location))
            } catch {
                try? await Self.administer(url, "DROP DATABASE \(name) WITH (FORCE)")
                throw error
            }
            try await Self.administer(url, "DROP DATABASE \(name) WITH (FORCE)")
        }
    }

    /// Runs `body` with one open store on a fresh database, closed after.
    func with(_ body: (any Store) async throws -> Void) async throws {
        try await withDatabase { database in
            let store = try await database.open()
            do {
                try await body(store)
            } catch {
                await store.close()
                throw error
            }
            await store.close()
        }
    }

    /// One statement on the server's base database (CREATE/DROP DATABASE cannot run in a transaction or a pool's
    /// prepared statement).
    private static func administer(_ url: String, _ sql: String) async throws {
        let client = PostgresClient(configuration: try PostgresURL.configuration(url))
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        try await client.query(PostgresQuery(unsafeSQL: sql))
    }
}
