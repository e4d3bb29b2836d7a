import Foundation
import NIOHTTP1
import Storage
import Testing

/// `liveloop tenants …` and `channels create --tenant`: the real binary, on the data directory of a running server.
@Suite("tenants: the CLI", .serialized)
struct TenantCLITests {
    static var binary: String { ConfigFileTests.binary }

    func run(_ arguments: [String], data: String) async throws -> (Int32, String, String) {
        try await Tools.output(Self.binary, arguments + ["--data", data])
    }

    @Test("tenants create --json prints id and apiKey; the key works on the running server; list, keys, revoke and delete",
          .enabled(if: ConfigFileTests.haveBinary))
    func lifecycle() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let data = server.dataDirectory

        var (status, out, errors) = try await run(["tenants", "create", "acme", "--max-channels", "1", "--max-viewers", "50", "--json"], data: data)
        #expect(status == 0, "\(errors)")
        let created = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let id = try #require(created["id"] as? String)
        let apiKey = try #require(created["apiKey"] as? String)
        #expect(id.hasPrefix("tn_") && apiKey.hasPrefix("tk_"))
        #expect(created["maxChannels"] as? Int == 1 && created["maxViewers"] as? Int == 50 && created["maxPublishers"] == nil)
        #expect(try await httpRequest(port: server.httpPort, .GET, "/api/v1/tenants/acme", bearer: apiKey).0 == 200,
                "the running server accepts the key at once")

        (status, _, errors) = try await run(["tenants", "create", "acme"], data: data)
        #expect(status != 0 && errors.contains("already exists"))
        (status, out, _) = try await run(["tenants", "list"], data: data)
        #expect(status == 0 && out.contains("acme") && out.contains(id) && out.contains("default"))

        // A channel of the tenant from the CLI counts against its quota.
        (status, out, errors) = try await run(["channels", "create", "acme-1", "--tenant", "acme", "--json"], data: data)
        #expect(status == 0, "\(errors)")
        #expect(try server.store.channel(named: "acme-1")?.tenantID == id)
        (status, _, errors) = try await run(["channels", "create", "acme-2", "--tenant", id], data: data)
        #expect(status != 0 && errors.contains("quota of 1 channels"), "\(errors)")

        // Keys: a read key, listed without its secret, then revoked: the server refuses it.
        (status, out, errors) = try await run(["tenants", "keys", "create", "acme", "--scope", "read", "--json"], data: data)
        #expect(status == 0, "\(errors)")
        let key = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let keyID = try #require(key["id"] as? String)
        let readKey = try #require(key["apiKey"] as? String)
        #expect(try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/acme-1", bearer: readKey).0 == 200)
        (status, out, _) = try await run(["tenants", "keys", "list", "acme"], data: data)
        #expect(status == 0 && out.contains(keyID) && !out.contains(readKey))
        (status, _, errors) = try await run(["tenants", "keys", "create", "acme", "--scope", "root"], data: data)
        #expect(status != 0 && errors.contains("unknown scope"))
        (status, _, _) = try await run(["tenants", "keys", "revoke", "acme", keyID], data: data)
        #expect(status == 0)
        #expect(try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/acme-1", bearer: readKey).0 == 401)

        (status, _, errors) = try await run(["tenants", "delete", "acme"], data: data)
        #expect(status != 0 && errors.contains("still has 1 channel"))
        _ = try await run(["channels", "delete", "acme-1"], data: data)
        (status, _, errors) = try await run(["tenants", "delete", "acme"], data: data)
        #expect(status == 0, "\(errors)")
        #expect(try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels", bearer: apiKey).0 == 401)
    }
}
