import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import NIOHTTP1
import Storage
import Testing

@Suite("tenants: scoped keys, isolation and quotas over the API", .serialized)
struct TenantAPITests {
    func call(_ server: TestServer, _ method: HTTPMethod, _ path: String, _ key: String?, _ body: String? = nil) async throws -> (Int, [String: Any]?) {
        try await httpRequest(port: server.httpPort, method, path, bearer: key, body: body)
    }

    static func code(_ body: [String: Any]?) -> String? { (body?["error"] as? [String: Any])?["code"] as? String }
    static func error(_ body: [String: Any]?) -> [String: Any] { body?["error"] as? [String: Any] ?? [:] }

    /// Creates a tenant over the API with the admin key; returns its id and first (admin) key.
    func tenant(_ server: TestServer, _ admin: String, _ name: String, quotas: String = "") async throws -> (id: String, key: String) {
        let (status, body) = try await call(server, .POST, "/api/v1/tenants", admin, #"{"name":"\#(name)"\#(quotas)}"#)
        #expect(status == 201)
        return (try #require(body?["id"] as? String), try #require(body?["apiKey"] as? String))
    }

    @Test("only the admin key creates tenants; a tenant's key sees, changes and mints tokens for its own channels only")
    func isolation() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let admin = try #require(try server.store.ensureAdminKey())
        _ = try server.createChannel("house")  // the default tenant's, as every channel made before tenants

        let (acme, acmeKey) = try await tenant(server, admin, "acme")
        let (_, globexKey) = try await tenant(server, admin, "globex")
        #expect(acmeKey.hasPrefix("tk_"))
        var (status, body) = try await call(server, .POST, "/api/v1/tenants", acmeKey, #"{"name":"rogue"}"#)
        #expect(status == 403 && Self.code(body) == "operator_only", "a tenant key cannot make tenants")
        #expect(try await call(server, .POST, "/api/v1/tenants", nil, #"{"name":"rogue"}"#).0 == 401)
        #expect(try await call(server, .POST, "/api/v1/tenants", admin, #"{"name":"acme"}"#).0 == 409)

        (status, body) = try await call(server, .POST, "/api/v1/channels", acmeKey, #"{"name":"acme-live"}"#)
        #expect(status == 201 && body?["tenant"] as? String == acme)
        let streamKey = try #require(body?["streamKey"] as? String)
        (status, _) = try await call(server, .POST, "/api/v1/channels", globexKey, #"{"name":"globex-live"}"#)
        #expect(status == 201)

        // Listing shows only the key's tenant; the operator sees all.
        let (_, acmeList) = try await httpRequestArray(server, "/api/v1/channels", acmeKey)
        #expect(acmeList.compactMap { $0["name"] as? String } == ["acme-live"])
        let (_, allList) = try await httpRequestArray(server, "/api/v1/channels", admin)
        #expect(Set(allList.compactMap { $0["name"] as? String }) == ["acme-live", "globex-live", "house"])

        // Another tenant's channel is answered exactly as a channel that does not exist.
        for (method, path, json) in [(HTTPMethod.GET, "", nil as String?), (.POST, "/rotate-key", nil), (.DELETE, "", nil),
                                     (.POST, "/tokens", #"{"role":"host","sub":"x"}"#), (.POST, "/tokens/revoke", #"{"all":true}"#)] {
            let (theirs, theirBody) = try await call(server, method, "/api/v1/channels/globex-live\(path)", acmeKey, json)
            let (missing, missingBody) = try await call(server, method, "/api/v1/channels/no-such\(path)", acmeKey, json)
            #expect(theirs == 404 && missing == 404, "\(method) …\(path)")
            #expect(Self.code(theirBody) == "not_found" && Self.code(missingBody) == "not_found")
        }
        #expect(try await call(server, .GET, "/api/v1/channels/house", acmeKey).0 == 404)
        #expect(try server.store.channel(named: "globex-live") != nil, "globex's channel was not touched")

        // Its own channel: tokens minted by the tenant key work in its room, and a tenant key is its room's host.
        (status, body) = try await call(server, .POST, "/api/v1/channels/acme-live/tokens", acmeKey, #"{"role":"viewer","sub":"v1"}"#)
        #expect(status == 200)
        let viewerToken = try #require(body?["token"] as? String)
        #expect(try await call(server, .GET, "/api/v1/channels/acme-live/room", viewerToken).0 == 200)
        #expect(try await call(server, .GET, "/api/v1/channels/acme-live/room", acmeKey).0 == 200)
        #expect(try await call(server, .GET, "/api/v1/channels/globex-live/room", acmeKey).0 == 404)
        #expect(try await call(server, .GET, "/api/v1/channels/globex-live/settings", acmeKey).0 == 404)
        #expect(try await call(server, .GET, "/api/v1/channels/globex-live/health", acmeKey).0 == 404)
        #expect(try await AttackTests().upgrade(port: server.httpPort, path: "/api/v1/channels/globex-live/ws", token: acmeKey).0 == 404)
        #expect(try server.store.channel(forStreamKey: streamKey)?.name == "acme-live")

        // The signing secret is every tenant's: only the operator rotates it.
        (status, body) = try await call(server, .POST, "/api/v1/tokens/rotate-secret", acmeKey, "{}")
        #expect(status == 403 && Self.code(body) == "operator_only")
        // The operator can place a channel in a tenant.
        (status, body) = try await call(server, .POST, "/api/v1/channels", admin, #"{"name":"placed","tenant":"acme"}"#)
        #expect(status == 201 && body?["tenant"] as? String == acme)
        (status, body) = try await call(server, .POST, "/api/v1/channels", acmeKey, #"{"name":"sneaky","tenant":"globex"}"#)
        #expect(status == 404 && Self.code(body) == "not_found", "a tenant key cannot place a channel in another tenant")
    }

    @Test("a key without the scope a call needs gets 403 naming the scope; rotated and revoked keys stop at once")
    func scopesAndKeyLifecycle() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let admin = try #require(try server.store.ensureAdminKey())
        let (acme, acmeAdmin) = try await tenant(server, admin, "acme")
        let (globex, globexAdmin) = try await tenant(server, admin, "globex")
        #expect(try await call(server, .POST, "/api/v1/channels", acmeAdmin, #"{"name":"show"}"#).0 == 201)

        var (status, body) = try await call(server, .POST, "/api/v1/tenants/\(acme)/keys", acmeAdmin, #"{"scopes":["read"]}"#)
        #expect(status == 201 && body?["scopes"] as? [String] == ["read"])
        let readKey = try #require(body?["apiKey"] as? String)
        let readID = try #require(body?["id"] as? String)
        (status, body) = try await call(server, .POST, "/api/v1/tenants/\(acme)/keys", acmeAdmin, #"{"scopes":["channels:write"]}"#)
        let writeKey = try #require(body?["apiKey"] as? String)
        (status, body) = try await call(server, .POST, "/api/v1/tenants/\(acme)/keys", acmeAdmin, #"{"scopes":["everything"]}"#)
        #expect(status == 400 && (Self.error(body)["message"] as? String)?.contains("everything") == true)

        #expect(try await call(server, .GET, "/api/v1/channels/show", readKey).0 == 200)
        (status, body) = try await call(server, .POST, "/api/v1/channels", readKey, #"{"name":"nope"}"#)
        #expect(status == 403 && Self.code(body) == "missing_scope" && Self.error(body)["scope"] as? String == "channels:write")
        (status, body) = try await call(server, .POST, "/api/v1/channels/show/tokens", readKey, #"{"role":"viewer","sub":"v"}"#)
        #expect(status == 403 && Self.error(body)["scope"] as? String == "channels:write")
        (status, body) = try await call(server, .GET, "/api/v1/channels/show/room", readKey)
        #expect(status == 403 && Self.error(body)["scope"] as? String == "channels:write", "a read key is not the room's host")
        #expect(try await call(server, .POST, "/api/v1/channels/show/tokens", writeKey, #"{"role":"viewer","sub":"v"}"#).0 == 200)
        (status, body) = try await call(server, .GET, "/api/v1/tenants/\(acme)/keys", writeKey)
        #expect(status == 403 && Self.error(body)["scope"] as? String == "admin", "only an admin key manages keys")

        // Listing shows no secret; the tenant admin cannot see or touch another tenant's keys.
        let (_, keys) = try await httpRequestArray(server, "/api/v1/tenants/\(acme)/keys", acmeAdmin)
        #expect(keys.count == 3 && keys.allSatisfy { $0["apiKey"] == nil })
        #expect(try await call(server, .GET, "/api/v1/tenants/\(globex)/keys", acmeAdmin).0 == 404)
        #expect(try await call(server, .GET, "/api/v1/tenants/\(globex)", acmeAdmin).0 == 404)
        #expect(try await call(server, .DELETE, "/api/v1/tenants/\(acme)/keys/\(readID)", globexAdmin).0 == 404)
        (status, body) = try await call(server, .GET, "/api/v1/tenants/\(acme)", readKey)
        #expect(status == 200 && (body?["usage"] as? [String: Any])?["channels"] as? Int == 1)

        // Rotate: a new secret, the old one refused at once.
        (status, body) = try await call(server, .POST, "/api/v1/tenants/\(acme)/keys/\(readID)/rotate", acmeAdmin)
        #expect(status == 200 && body?["id"] as? String == readID)
        let rotated = try #require(body?["apiKey"] as? String)
        #expect(rotated != readKey)
        #expect(try await call(server, .GET, "/api/v1/channels/show", readKey).0 == 401)
        #expect(try await call(server, .GET, "/api/v1/channels/show", rotated).0 == 200)
        // Revoke: refused at once, listed as revoked.
        #expect(try await call(server, .DELETE, "/api/v1/tenants/\(acme)/keys/\(readID)", acmeAdmin).0 == 204)
        #expect(try await call(server, .GET, "/api/v1/channels/show", rotated).0 == 401)
        let (_, after) = try await httpRequestArray(server, "/api/v1/tenants/\(acme)/keys", acmeAdmin)
        #expect(after.first { $0["id"] as? String == readID }?["revokedAt"] != nil)

        // Tenants: the operator lists all, a tenant only itself; deleting one with channels is refused.
        let (_, all) = try await httpRequestArray(server, "/api/v1/tenants", admin)
        #expect(Set(all.compactMap { $0["name"] as? String }) == ["default", "acme", "globex"])
        let (_, own) = try await httpRequestArray(server, "/api/v1/tenants", acmeAdmin)
        #expect(own.compactMap { $0["name"] as? String } == ["acme"])
        (status, body) = try await call(server, .DELETE, "/api/v1/tenants/\(acme)", admin)
        #expect(status == 409 && Self.code(body) == "tenant_not_empty")
        #expect(try await call(server, .DELETE, "/api/v1/tenants/\(globex)", globexAdmin).0 == 403)
        #expect(try await call(server, .DELETE, "/api/v1/tenants/\(globex)", admin).0 == 204)
        #expect(try await call(server, .GET, "/api/v1/channels", globexAdmin).0 == 401, "a deleted tenant's keys go with it")
    }

    @Test("a tenant's channel quota answers 403 quota_exceeded with the limit, and the operator can raise it")
    func channelQuota() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let admin = try #require(try server.store.ensureAdminKey())
        let (id, key) = try await tenant(server, admin, "small", quotas: #","maxChannels":1"#)
        #expect(try await call(server, .POST, "/api/v1/channels", key, #"{"name":"one"}"#).0 == 201)
        var (status, body) = try await call(server, .POST, "/api/v1/channels", key, #"{"name":"two"}"#)
        #expect(status == 403 && Self.code(body) == "quota_exceeded")
        #expect(Self.error(body)["limit"] as? Int == 1 && Self.error(body)["quota"] as? String == "channels")
        #expect(try server.store.channel(named: "two") == nil)
        #expect(try await call(server, .PUT, "/api/v1/tenants/\(id)/quotas", key, #"{"maxChannels":5}"#).0 == 403)
        (status, body) = try await call(server, .PUT, "/api/v1/tenants/\(id)/quotas", admin, #"{"maxChannels":2,"maxViewers":10}"#)
        #expect(status == 200 && body?["maxChannels"] as? Int == 2 && body?["maxPublishers"] == nil)
        #expect(try await call(server, .POST, "/api/v1/channels", key, #"{"name":"two"}"#).0 == 201)
        #expect(try await call(server, .POST, "/api/v1/tenants", admin, #"{"name":"bad","maxViewers":-3}"#).0 == 400)
    }

    func httpRequestArray(_ server: TestServer, _ path: String, _ key: String) async throws -> (Int, [[String: Any]]) {
        let (status, json) = try await httpJSON(port: server.httpPort, .GET, path, bearer: key)
        return (status, json as? [[String: Any]] ?? [])
    }
}
