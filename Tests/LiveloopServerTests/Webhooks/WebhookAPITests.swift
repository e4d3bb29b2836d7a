import Foundation
import LiveloopServer
import NIOHTTP1
import Storage
import Testing

/// `/api/v1/webhooks` refuses what it should, with JSON errors, and never shows a secret twice.
@Suite("webhook API")
struct WebhookAPITests {
    @Test("without the admin key every webhook route is 401")
    func unauthorized() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        for (method, path) in [(HTTPMethod.GET, "/api/v1/webhooks"), (.POST, "/api/v1/webhooks"), (.DELETE, "/api/v1/webhooks/wh_x"),
                               (.GET, "/api/v1/webhooks/wh_x/deliveries"), (.POST, "/api/v1/webhooks/wh_x/ping")] {
            let (status, body) = try await httpRequest(port: server.httpPort, method, path, bearer: "ak_wrong", body: method == .POST ? "{}" : nil)
            #expect(status == 401, "\(method) \(path)")
            #expect((body?["error"] as? [String: Any])?["code"] as? String == "unauthorized")
        }
    }

    @Test("bad subscriptions are 400 with a message, and nothing is stored", arguments: [
        #"{"url":"ftp://example.com/x","events":["gift.sent"]}"#,
        #"{"url":"not a url","events":["gift.sent"]}"#,
        #"{"url":"https://example.com/x","events":[]}"#,
        #"{"url":"https://example.com/x","events":["stream.exploded"]}"#,
        #"{"url":"https://example.com/x","events":["webhook.ping"]}"#,
        #"{"url":"https://example.com/x","events":["gift.sent"],"secret":"short"}"#,
        #"{"url":"https://example.com/x","events":["gift.sent"],"channel":"no such channel"}"#,
        #"{"url":"https://example.com/x","events":["gift.sent"],"channel":"missing"}"#,
        #"{"url":"https://example.com/x"}"#,
        #"{"url":"http://127.0.0.1:9/x","events":["gift.sent"]}"#,
        #"{"url":"http://[::ffff:169.254.169.254]/latest","events":["gift.sent"]}"#,
    ])
    func badInput(body: String) async throws {
        var strict = WebhookConfiguration.testing
        strict.allowPrivateAddresses = false
        let server = try await TestServer.start(webhooks: strict)
        defer { Task { await server.stop() } }
        let admin = try server.store.rotateAdminKey()
        let (status, answer) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/webhooks", bearer: admin, body: body)
        #expect(status == 400, "\(body) → \(status)")
        #expect(((answer?["error"] as? [String: Any])?["message"] as? String)?.isEmpty == false)
        let (_, list) = try await httpJSON(port: server.httpPort, .GET, "/api/v1/webhooks", bearer: admin)
        #expect((list as? [Any])?.isEmpty == true)
    }

    @Test("create shows the secret once; list and get never do; delete removes it and its log; the cap is a 409")
    func lifecycle() async throws {
        var capped = WebhookConfiguration.testing
        capped.maxWebhooks = 1
        let server = try await TestServer.start(webhooks: capped)
        defer { Task { await server.stop() } }
        let admin = try server.store.rotateAdminKey()
        let (created, body) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/webhooks", bearer: admin,
            body: #"{"url":"https://hooks.example.com/in","events":["poll.closed","poll.closed","gift.sent"]}"#)
        #expect(created == 201)
        let id = try #require(body?["id"] as? String)
        #expect((body?["secret"] as? String)?.hasPrefix("whsec_") == true, "a secret is made when none is given")
        #expect(body?["events"] as? [String] == ["poll.closed", "gift.sent"], "repeats are dropped")
        let (_, list) = try await httpJSON(port: server.httpPort, .GET, "/api/v1/webhooks", bearer: admin)
        let listed = try #require((list as? [[String: Any]])?.first)
        #expect(listed["id"] as? String == id)
        #expect(listed["secret"] == nil)
        let (_, one) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/webhooks/\(id)", bearer: admin)
        #expect(one?["url"] as? String == "https://hooks.example.com/in")
        #expect(one?["secret"] == nil)
        let (full, refusal) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/webhooks", bearer: admin,
            body: #"{"url":"https://hooks.example.com/2","events":["gift.sent"]}"#)
        #expect(full == 409)
        #expect((refusal?["error"] as? [String: Any])?["code"] as? String == "too_many_webhooks")
        let (badLimit, _) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/webhooks/\(id)/deliveries?limit=100000", bearer: admin)
        #expect(badLimit == 400)
        let (deleted, _) = try await httpRequest(port: server.httpPort, .DELETE, "/api/v1/webhooks/\(id)", bearer: admin)
        #expect(deleted == 204)
        for (method, path) in [(HTTPMethod.GET, "/api/v1/webhooks/\(id)"), (.DELETE, "/api/v1/webhooks/\(id)"),
                               (.GET, "/api/v1/webhooks/\(id)/deliveries"), (.POST, "/api/v1/webhooks/\(id)/ping")] {
            let (status, answer) = try await httpRequest(port: server.httpPort, method, path, bearer: admin)
            #expect(status == 404, "\(method) \(path)")
            #expect((answer?["error"] as? [String: Any])?["code"] as? String == "not_found")
        }
    }

    @Test("with private addresses refused, a name that resolves to loopback fails its delivery without a request")
    func resolvedToLoopback() async throws {
        let receiver = try await WebhookReceiver.start()
        var strict = WebhookConfiguration.testing
        strict.allowPrivateAddresses = false
        let server = try await TestServer.start(webhooks: strict)
        defer { Task { await server.stop(); await receiver.stop() } }
        let admin = try server.store.rotateAdminKey()
        let (_, body) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/webhooks", bearer: admin,
            body: #"{"url":"http://localhost:\#(receiver.port)/hook","events":["gift.sent"]}"#)
        let id = try #require(body?["id"] as? String)
        _ = try await httpRequest(port: server.httpPort, .POST, "/api/v1/webhooks/\(id)/ping", bearer: admin)
        #expect(await eventually {
            (try? await WebhookDeliveryTests.log(server, key: admin, webhook: id))?.first?["state"] as? String == "failed"
        })
        let entry = try #require(try await WebhookDeliveryTests.log(server, key: admin, webhook: id).first)
        #expect((entry["lastError"] as? String)?.contains("internal") == true, "\(entry)")
        #expect(entry["attempts"] as? Int == 1, "a refused address is not retried")
        #expect(receiver.deliveries.isEmpty)
    }
}
