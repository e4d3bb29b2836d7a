import Foundation
import LiveloopServer
import Storage
import Testing

/// The data commands with `--database`: the real binary against the PostgreSQL that `./scripts/test` starts
/// (`LIVELOOP_TEST_POSTGRES`), never touching SQLite in `--data`; and a clear, quick refusal when there is no database.
@Suite("the CLI on PostgreSQL (--database)", .serialized)
struct DatabaseCLITests {
    static var binary: String { ConfigFileTests.binary }

    struct NoPostgres: Error, CustomStringConvertible {
        var description: String { "no PostgreSQL: run eval \"$(scripts/pg-temp start)\" or set LIVELOOP_SKIP_POSTGRES=1" }
    }

    /// The test server's URL, or nil when the PostgreSQL tests are skipped on purpose.
    static func postgresURL() throws -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let url = environment["LIVELOOP_TEST_POSTGRES"], !url.isEmpty { return url }
        if environment["LIVELOOP_SKIP_POSTGRES"] == "1" { return nil }
        throw NoPostgres()
    }

    @Test("tenants, channels, video settings and tokens go to PostgreSQL; SQLite in --data stays empty",
          .enabled(if: ConfigFileTests.haveBinary))
    func commandsUseThePostgresStore() async throws {
        guard let url = try Self.postgresURL() else { return }
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("liveloop-dbcli-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let suffix = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(10).lowercased()
        let tenant = "t\(suffix)", channel = "c\(suffix)"
        func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String, String) {
            try await Tools.output(Self.binary, arguments + ["--data", data], environment: environment)
        }

        var (status, out, errors) = try await run(["tenants", "create", tenant, "--max-channels", "1", "--json", "--database", url])
        #expect(status == 0, "\(errors)")
        // LIVELOOP_DATABASE works as the flag does.
        (status, out, errors) = try await run(["channels", "create", channel, "--tenant", tenant, "--json"],
                                              environment: ["LIVELOOP_DATABASE": url])
        #expect(status == 0, "\(errors)")
        let created = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let streamKey = try #require(created["streamKey"] as? String)
        (status, _, errors) = try await run(["channels", "create", "c2\(suffix)", "--tenant", tenant, "--database", url])
        #expect(status != 0 && errors.contains("quota of 1 channels"), "the tenant's quota is PostgreSQL's: \(errors)")
        (status, _, errors) = try await run(["channels", "set", channel, "--record", "on", "--database", url])
        #expect(status == 0, "\(errors)")
        (status, out, errors) = try await run(["token", "--channel", channel, "--sub", "u1", "--database", url])
        #expect(status == 0 && out.hasPrefix("ey"), "\(errors)")

        // What the commands wrote is in PostgreSQL, read by another client…
        let store = try await PostgresStore(url: url, connections: 1)
        do {
            #expect(try await store.channel(forStreamKey: streamKey)?.name == channel)
            #expect(try await store.tenant(ofChannel: channel)?.name == tenant)
            #expect(try await store.videoSettings(channel: channel).record)
            #expect(try await store.storedSecret(named: TokenAuthority.secretName) != nil, "the token was signed with its secret")
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        // …and nothing is in SQLite under --data.
        (status, out, _) = try await run(["channels", "list"])
        #expect(status == 0 && !out.contains(channel))

        (status, _, errors) = try await run(["channels", "delete", channel, "--database", url])
        #expect(status == 0, "\(errors)")
        (status, _, errors) = try await run(["tenants", "delete", tenant, "--database", url])
        #expect(status == 0, "\(errors)")
    }

    @Test("a database that does not answer: a one-line error naming it (password hidden) and exit status 1, within seconds",
          .enabled(if: ConfigFileTests.haveBinary))
    func unreachableDatabase() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("liveloop-dbcli-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        // Port 1 on loopback: nothing listens, every connection is refused.
        let started = ContinuousClock.now
        let (status, out, errors) = try await Tools.output(
            Self.binary, ["channels", "list", "--data", data, "--database", "postgres://liveloop:hunter2@127.0.0.1:1/liveloop"])
        #expect(status == 1)
        #expect(out.isEmpty)
        #expect(errors.contains("cannot open the database postgres://liveloop:***@127.0.0.1:1/liveloop"), "\(errors)")
        #expect(!errors.contains("hunter2"), "the password is never printed")
        #expect(ContinuousClock.now - started < .seconds(20))
        #expect(!FileManager.default.fileExists(atPath: data + "/liveloop.sqlite"), "SQLite is not opened instead")

        let (badStatus, _, badErrors) = try await Tools.output(Self.binary, ["tenants", "list", "--data", data, "--database", "mysql://x@y/z"])
        #expect(badStatus == 1 && badErrors.contains("invalid database URL"), "\(badErrors)")
    }
}
