import Foundation
import Interaction
import LiveloopClient
import NIOHTTP1
@testable import LiveloopServer
import Storage
import Testing

@Suite("multistream API: destinations of a channel", .serialized)
struct DestinationAPITests {
    static func hostToken(_ server: TestServer, _ channel: String, role: Role) async throws -> String {
        try await server.server.tokens.mint(LiveloopClaims(sub: "u-\(role)", name: "u", role: role, channel: channel,
                                                           expires: Date().addingTimeInterval(600)))
    }

    @Test("add, list, disable, delete: the key is masked in every answer and the count is bounded")
    func lifecycle() async throws {
        var configuration = MultistreamConfiguration.testing
        configuration.maxPerChannel = 2
        let server = try await TestServer.start(multistream: configuration)
        defer { Task { await server.stop() } }
        _ = try server.createChannel("studio")
        let admin = try #require(try server.store.ensureAdminKey())
        let base = "/api/v1/channels/studio/destinations"
        let key = "live_abcdefghijklmnop1234"

        let (created, body) = try await httpJSON(port: server.httpPort, .POST, base, bearer: admin,
                                                 body: #"{"url":"rtmp://127.0.0.1:1/live","key":"\#(key)","name":"YouTube"}"#)
        #expect(created == 201)
        let destination = try #require(body as? [String: Any])
        let id = try #require(destination["id"] as? String)
        #expect(destination["key"] as? String == "••••1234")
        #expect(destination["name"] as? String == "YouTube")
        #expect(destination["enabled"] as? Bool == true)
        #expect((destination["status"] as? [String: Any])?["state"] as? String == "idle", "the channel is not live")

        // A host token of the channel may add too; the name defaults to the host.
        let host = try await Self.hostToken(server, "studio", role: .host)
        let (second, secondBody) = try await httpJSON(port: server.httpPort, .POST, base, bearer: host,
                                                      body: #"{"url":"rtmps://example.com/app","key":"k2","enabled":false}"#)
        #expect(second == 201)
        #expect((secondBody as? [String: Any])?["name"] as? String == "example.com")
        #expect((secondBody as? [String: Any])?["key"] as? String == "••••")

        let (full, fullBody) = try await httpJSON(port: server.httpPort, .POST, base, bearer: admin,
                                                  body: #"{"url":"rtmp://example.com/app","key":"k3"}"#)
        #expect(full == 409)
        #expect(((fullBody as? [String: Any])?["error"] as? [String: Any])?["code"] as? String == "too_many_destinations")

        let (listed, list) = try await httpJSON(port: server.httpPort, .GET, base, bearer: admin)
        #expect(listed == 200)
        let items = try #require(list as? [[String: Any]])
        #expect(items.count == 2)
        #expect(items.map { $0["id"] as? String }.first == id)
        let raw = try await server.get(base)
        #expect(raw.status == 401, "no credential, no list")
        // Nothing anywhere says the key.
        let listing = try JSONSerialization.data(withJSONObject: items)
        #expect(!String(decoding: listing, as: UTF8.self).contains(key))
        #expect(!String(decoding: listing, as: UTF8.self).contains("abcdefgh"))

        let (patched, patchedBody) = try await httpJSON(port: server.httpPort, .PATCH, "\(base)/\(id)", bearer: admin,
                                                        body: #"{"enabled":false}"#)
        #expect(patched == 200)
        #expect((patchedBody as? [String: Any])?["enabled"] as? Bool == false)
        #expect(((patchedBody as? [String: Any])?["status"] as? [String: Any])?["state"] as? String == "disabled")

        let (deleted, _) = try await httpJSON(port: server.httpPort, .DELETE, "\(base)/\(id)", bearer: admin)
        #expect(deleted == 204)
        let (again, _) = try await httpJSON(port: server.httpPort, .DELETE, "\(base)/\(id)", bearer: admin)
        #expect(again == 404)
        let (gone, _) = try await httpJSON(port: server.httpPort, .GET, "\(base)/\(id)", bearer: admin)
        #expect(gone == 404)
        // The stored key is the one given (it is what gets pushed).
        let stored = try await server.store.destinations(channel: "studio")
        #expect(stored.map(\.key.revealed) == ["k2"])
    }

    @Test("bad requests get a 4xx with a JSON error and change nothing", arguments: [
        (#"{"url":"http://example.com/live","key":"k"}"#, 400, "invalid_url"),
        (#"{"url":"rtmp://example.com","key":"k"}"#, 400, "invalid_url"),
        (#"{"url":"rtmp://example.com:99999/live","key":"k"}"#, 400, "invalid_url"),
        (#"{"url":"rtmp://10.0.0.5/live","key":"k"}"#, 400, "invalid_url"),
        (#"{"url":"rtmp://localhost/live","key":"k"}"#, 201, ""),
        (#"{"url":"rtmp://example.com/live","key":""}"#, 400, "bad_request"),
        (#"{"url":"rtmp://example.com/live","key":"a b"}"#, 400, "bad_request"),
        (#"{"url":"rtmp://example.com/live","key":"k","name":""}"#, 400, "bad_request"),
        (#"{"url":"rtmp://example.com/live"}"#, 400, "bad_request"),
        (#"{"url":42,"key":"k"}"#, 400, "bad_request"),
        ("not json", 400, "bad_request"),
    ])
    func badRequests(body: String, status: Int, code: String) async throws {
        // The default rule: no private addresses (a name is judged when connecting, a literal address at once).
        var configuration = MultistreamConfiguration.testing
        configuration.allowPrivateAddresses = false
        let server = try await TestServer.start(multistream: configuration)
        defer { Task { await server.stop() } }
        _ = try server.createChannel("studio")
        let admin = try #require(try server.store.ensureAdminKey())
        let (answered, json) = try await httpJSON(port: server.httpPort, .POST, "/api/v1/channels/studio/destinations", bearer: admin, body: body)
        #expect(answered == status)
        if status >= 400 {
            let error = try #require((json as? [String: Any])?["error"] as? [String: Any])
            #expect(error["code"] as? String == code)
            #expect((error["message"] as? String)?.isEmpty == false)
            #expect(try await server.store.destinations(channel: "studio").isEmpty)
        }
    }

    @Test("only the channel's host or the admin may see or change its destinations")
    func roles() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("studio")
        _ = try server.createChannel("other")
        let base = "/api/v1/channels/studio/destinations"
        let viewer = try await Self.hostToken(server, "studio", role: .viewer)
        let moderator = try await Self.hostToken(server, "studio", role: .moderator)
        let otherHost = try await Self.hostToken(server, "other", role: .host)
        let body = #"{"url":"rtmp://example.com/live","key":"k"}"#
        #expect(try await httpJSON(port: server.httpPort, .POST, base, bearer: viewer, body: body).0 == 403)
        #expect(try await httpJSON(port: server.httpPort, .POST, base, bearer: moderator, body: body).0 == 403)
        #expect(try await httpJSON(port: server.httpPort, .GET, base, bearer: moderator).0 == 403)
        #expect(try await httpJSON(port: server.httpPort, .POST, base, bearer: otherHost, body: body).0 == 403)
        #expect(try await httpJSON(port: server.httpPort, .POST, base, bearer: "ak_wrong", body: body).0 == 401)
        #expect(try await httpJSON(port: server.httpPort, .POST, "/api/v1/channels/nope/destinations", bearer: viewer, body: body).0 == 404)
        let admin = try #require(try server.store.ensureAdminKey())
        #expect(try await httpJSON(port: server.httpPort, .PATCH, base + "/ds_missing", bearer: admin, body: #"{"enabled":true}"#).0 == 404)
        #expect(try await server.store.destinations(channel: "studio").isEmpty)
    }

    @Test("deleting a channel deletes its destinations")
    func channelDeletion() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("studio")
        _ = try await server.store.createDestination(channel: "studio", name: "x", url: "rtmp://example.com/live", key: "k",
                                                     enabled: true, limit: 5)
        try server.store.deleteChannel(name: "studio")
        _ = try server.createChannel("studio")
        #expect(try await server.store.destinations(channel: "studio").isEmpty)
    }
}
