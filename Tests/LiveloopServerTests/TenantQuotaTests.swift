import Foundation
import Interaction
import LiveMedia
import LiveloopClient
import LiveloopServer
import Storage
import Testing

@Suite("tenants: viewer and publisher quotas", .serialized)
struct TenantQuotaTests {
    static func viewerToken(_ server: TestServer, _ channel: String, _ sub: String, role: Role = .viewer) async throws -> String {
        try await server.server.tokens.mint(LiveloopClaims(sub: sub, name: sub, role: role, channel: channel,
                                                           expires: Date().addingTimeInterval(600)))
    }

    static func connect(_ server: TestServer, _ channel: String, _ token: String) async throws -> InteractionClient {
        var configuration = InteractionClient.Configuration()
        configuration.reconnect = nil
        configuration.clockSync = nil
        return try await InteractionClient.connect(
            url: InteractionClient.url(server: "http://127.0.0.1:\(server.httpPort)", channel: channel), token: token,
            configuration: configuration)
    }

    /// A raw video-socket upgrade held open (it reads the fragments the server sends).
    static func videoSocket(_ server: TestServer, _ channel: String) async throws -> TCPCrowd {
        var head = "GET /live/\(channel)/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        head += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        return try await TCPCrowd.connect(count: 1, from: "127.0.0.1", to: server.httpPort, sending: Array(head.utf8))
    }

    @Test("a tenant's viewer quota counts interaction and video sockets of all its channels and refuses the next with 429 tenant_quota",
          .enabled(if: Tools.haveFFmpeg))
    func viewerQuota() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let (tenant, _, _) = try server.store.createTenant(name: "small", quotas: TenantQuotas(maxViewers: 2))
        let live = try server.store.createChannel(name: "small-live", tenant: tenant.id).streamKey
        _ = try server.store.createChannel(name: "small-talk", tenant: tenant.id)
        _ = try server.createChannel("other")
        let publisher = try Tools.publish(to: server.rtmpURL(key: live), frames: 60 * 30)
        defer { publisher.terminate() }
        #expect(await eventually(timeout: .seconds(20)) { (try? await server.get("/live/small-live/media.m3u8"))?.status == 200 })

        let first = try await Self.connect(server, "small-talk", try await Self.viewerToken(server, "small-talk", "v1"))
        defer { Task { await first.close() } }
        let video = try await Self.videoSocket(server, "small-live")
        #expect(await eventually(timeout: .seconds(5)) { video.snapshot.first?.statusCode == 101 }, "the video socket is a viewer")

        let third = try await Self.viewerToken(server, "small-talk", "v3")
        var (status, code) = try await AttackTests().upgrade(port: server.httpPort, path: "/api/v1/channels/small-talk/ws", token: third)
        #expect(status == 429 && code == "tenant_quota", "a third viewer on any of its channels")
        (status, code) = try await AttackTests().upgrade(port: server.httpPort, path: "/live/small-live/ws")
        #expect(status == 429 && code == "tenant_quota", "a second video socket")
        // The refusal says which quota and its limit.
        let crowd = try await Self.videoSocket(server, "small-live")
        _ = await eventually(timeout: .seconds(5)) { crowd.snapshot.first?.statusCode != nil }
        let refusal = try JSONSerialization.jsonObject(with: Data((crowd.snapshot.first?.body ?? "").utf8)) as? [String: Any]
        let error = refusal?["error"] as? [String: Any]
        #expect(error?["quota"] as? String == "viewers" && error?["limit"] as? Int == 2)
        await crowd.close()

        // Staff are not viewers; another tenant's channel is not touched by this quota.
        let host = try await Self.connect(server, "small-talk", try await Self.viewerToken(server, "small-talk", "h", role: .host))
        let outsider = try await Self.connect(server, "other", try await Self.viewerToken(server, "other", "o"))
        #expect(host.isConnected && outsider.isConnected)
        await host.close()
        await outsider.close()

        // A viewer leaving frees its slot.
        await video.close()
        #expect(await eventually {
            (try? await AttackTests().upgrade(port: server.httpPort, path: "/api/v1/channels/small-talk/ws", token: third))?.0 == 101
        })
    }

    @Test("a tenant's publisher quota refuses an RTMP publish on its next channel, while other tenants publish",
          .enabled(if: Tools.haveFFmpeg))
    func publisherQuota() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let (tenant, _, _) = try server.store.createTenant(name: "one-stream", quotas: TenantQuotas(maxPublishers: 1))
        let first = try server.store.createChannel(name: "first", tenant: tenant.id).streamKey
        let second = try server.store.createChannel(name: "second", tenant: tenant.id).streamKey
        let elsewhere = try server.createChannel("elsewhere")

        let publishing = try Tools.publish(to: server.rtmpURL(key: first), frames: 60 * 30)
        defer { publishing.terminate() }
        #expect(await eventually(timeout: .seconds(20)) { (try? await server.get("/live/first/media.m3u8"))?.status == 200 })
        let refused = try Tools.publish(to: server.rtmpURL(key: second), frames: 60 * 30)
        #expect(await Tools.waitForExit(refused, timeout: .seconds(20)) != 0, "the tenant's second publisher is refused")
        #expect(server.server.registry.broadcast("second") == nil)
        let other = try Tools.publish(to: server.rtmpURL(key: elsewhere), frames: 60 * 30)
        defer { other.terminate() }
        #expect(await eventually(timeout: .seconds(20)) { (try? await server.get("/live/elsewhere/media.m3u8"))?.status == 200 },
                "another tenant publishes")
        #expect(publishing.isRunning, "the tenant's first publisher is unaffected")
    }
}
