import Foundation
import LiveMedia
import LiveloopClient
import LiveloopServer
import NIOCore
import NIOPosix
import Testing

/// `--publish-hook`: a real ffmpeg publish is let in or turned away by what a local hook answers.
@Suite("publish hook", .serialized)
struct PublishHookTests {
    static let secret = "hook_secret_0123456789"

    static func server(hook: String, timeout: Duration = .seconds(3)) async throws -> TestServer {
        var webhooks = WebhookConfiguration.testing
        webhooks.publishHookURL = hook
        webhooks.publishHookSecret = secret
        webhooks.publishHookTimeout = timeout
        return try await TestServer.start(webhooks: webhooks)
    }

    @Test("the hook says no: ffmpeg's publish is refused and the channel is not live; it says yes: the channel goes live",
          .enabled(if: Tools.haveFFmpeg, "needs ffmpeg"))
    func denyThenAllow() async throws {
        let hook = try await WebhookReceiver.start()
        hook.configure(secret: Self.secret, answerBody: #"{"allow":false}"#)
        let server = try await Self.server(hook: hook.url)
        defer { Task { await server.stop(); await hook.stop() } }
        let key = try server.createChannel("cam")
        let refused = try Tools.publish(to: server.rtmpURL(key: key), frames: 90)
        #expect(await Tools.waitForExit(refused, timeout: .seconds(20)) != 0, "ffmpeg fails to publish")
        #expect(server.server.registry.broadcast("cam") == nil, "nothing went live")
        #expect(try await server.get("/live/cam/media.m3u8").status == 404)
        let asked = try #require(hook.deliveries.first)
        #expect(asked.verified, "the hook's request is signed with --publish-hook-secret")
        #expect(asked.json["channel"] as? String == "cam")
        #expect(asked.json["protocol"] as? String == "rtmp")
        #expect((asked.json["remoteAddress"] as? String)?.contains("127.0.0.1") == true)

        hook.configure(answerBody: #"{"allow":true}"#)
        let allowed = try Tools.publish(to: server.rtmpURL(key: key), frames: 150)
        defer { allowed.terminate() }
        #expect(await eventually(timeout: .seconds(15)) { server.server.registry.broadcast("cam")?.isLive == true })
        #expect(await eventually { (try? await server.get("/live/cam/media.m3u8"))?.status == 200 })
    }

    @Test("a hook that does not answer in time refuses the publish (the documented default)",
          .enabled(if: Tools.haveFFmpeg, "needs ffmpeg"))
    func silentHookDenies() async throws {
        // Accepts connections and never answers (a listener whose connections have no handler).
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        defer { listener.close(promise: nil) }
        let port = try #require(listener.localAddress?.port)
        let server = try await Self.server(hook: "http://127.0.0.1:\(port)/hook", timeout: .seconds(1))
        defer { Task { await server.stop() } }
        let key = try server.createChannel("cam")
        let started = ContinuousClock.now
        let ffmpeg = try Tools.publish(to: server.rtmpURL(key: key), frames: 90)
        #expect(await Tools.waitForExit(ffmpeg, timeout: .seconds(20)) != 0)
        #expect(ContinuousClock.now - started < .seconds(15))
        #expect(server.server.registry.broadcast("cam") == nil)
    }

    @Test("over SRT too: the hook is asked with protocol srt, a no keeps the channel off the air, a yes puts it on",
          .enabled(if: Tools.haveSRT, "needs libsrt and ffmpeg built with it"))
    func srt() async throws {
        let hook = try await WebhookReceiver.start()
        hook.configure(secret: Self.secret, answerBody: #"{"allow":false}"#)
        let server = try await Self.server(hook: hook.url)
        defer { Task { await server.stop(); await hook.stop() } }
        let key = try server.createChannel("cam")
        let port = try #require(server.srtPort)
        let refused = try Tools.publishSRT(to: Tools.srtURL(port: port, streamID: key), frames: 90)
        #expect(await eventually { !hook.deliveries.isEmpty })
        let asked = try #require(hook.deliveries.first)
        #expect(asked.verified)
        #expect(asked.json["protocol"] as? String == "srt")
        #expect(asked.json["channel"] as? String == "cam")
        try await Task.sleep(for: .seconds(1))
        #expect(server.server.registry.broadcast("cam") == nil, "nothing went live")
        _ = await Tools.waitForExit(refused, timeout: .seconds(10))

        hook.configure(answerBody: #"{"allow":true}"#)
        let allowed = try Tools.publishSRT(to: Tools.srtURL(port: port, streamID: key), frames: 150)
        defer { allowed.terminate() }
        #expect(await eventually(timeout: .seconds(15)) { server.server.registry.broadcast("cam")?.isLive == true })
    }
}
