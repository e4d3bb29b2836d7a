import ArgumentParser
import Foundation
import Logging
import Storage

/// The store a data command works on: PostgreSQL when `--database` (LIVELOOP_DATABASE) names one, else SQLite in the
/// data directory, as the server uses them.
extension DataOptions {
    /// The database could not be opened (unreachable, refused, or not a database URL); the password never appears.
    struct Unreachable: Error, CustomStringConvertible {
        let description: String
    }

    /// Opens the store, runs `work` on it and closes it; a `StoreError` becomes the CLI's one-line message.
    func withStore<T: Sendable>(_ work: (any Store) async throws -> T) async throws -> T {
        let store = try await open()
        do {
            let result = try await work(store)
            await store.close()
            return result
        } catch let error as StoreError {
            await store.close()
            throw ValidationError(error.description)
        } catch {
            await store.close()
            throw error
        }
    }

    func open() async throws -> any Store {
        guard let database, !database.isEmpty else { return try await SQLiteAsyncStore(directory: dataDirectory) }
        // The pool logs each failed connection attempt; a command says once what went wrong.
        var logger = Logger(label: "liveloop.postgres")
        logger.logLevel = .critical
        do {
            return try await PostgresStore(url: database, connections: 2, logger: logger)
        } catch let error as PostgresURL.Invalid {
            throw Unreachable(description: "\(error) (--database)")
        } catch let error as PostgresStore.Unreachable {
            throw Unreachable(description: "cannot open the database \(Self.redacted(database)): \(error)")
        } catch {
            throw Unreachable(description: "cannot open the database \(Self.redacted(database)): \(String(reflecting: error))")
        }
    }

    /// The URL without its password, for messages.
    static func redacted(_ url: String) -> String { PostgresURL.redacted(url) }
}
