import Foundation
import LiveloopClient
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Storage
import Testing

@Suite("channels: REST API and shared data", .serialized)
struct ChannelAPITests {
    func request(_ server: TestServer, _ method: HTTPMethod, _ path: String, key: String?, body: String? = nil) async throws -> (Int, [String: Any]?) {
        try await httpRequest(port: server.httpPort, method, path, bearer: key, body: body)
    }

    @Test("the channel API needs the admin key and creates, lists, rotates and deletes")
    func lifecycle() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let adminKey = try #require(try server.store.ensureAdminKey())

        #expect(try await request(server, .GET, "/api/v1/channels", key: nil).0 == 401)
        #expect(try await request(server, .GET, "/api/v1/channels", key: "ak_wrong").0 == 401)

        let (created, body) = try await request(server, .POST, "/api/v1/channels", key: adminKey, body: #"{"name":"show"}"#)
        #expect(created == 201)
        let key = try #require(body?["streamKey"] as? String)
        #expect(key.hasPrefix("sk_") && key.count >= 35)
        #expect((body?["rtmpURL"] as? String)?.hasPrefix("rtmp://") == true)

        #expect(try await request(server, .POST, "/api/v1/channels", key: adminKey, body: #"{"name":"show"}"#).0 == 409)
        let (bad, badBody) = try await request(server, .POST, "/api/v1/channels", key: adminKey, body: #"{"name":"Not OK"}"#)
        #expect(bad == 400)
        #expect((badBody?["error"] as? [String: Any])?["code"] as? String == "invalid_name")
        #expect(try await request(server, .POST, "/api/v1/channels", key: adminKey, body: "{not json").0 == 400)

        let (rotated, rotatedBody) = try await request(server, .POST, "/api/v1/channels/show/rotate-key", key: adminKey)
        #expect(rotated == 200)
        let newKey = try #require(rotatedBody?["streamKey"] as? String)
        #expect(newKey != key)
        #expect(try server.store.channel(forStreamKey: key) == nil, "the old key stops working at once")
        #expect(try server.store.channel(forStreamKey: newKey)?.name == "show")

        #expect(try await request(server, .DELETE, "/api/v1/channels/show", key: adminKey).0 == 204)
        #expect(try await request(server, .GET, "/api/v1/channels/show", key: adminKey).0 == 404)
        #expect(try await request(server, .DELETE, "/api/v1/channels/show", key: adminKey).0 == 404)
    }

    @Test("a key rotated by another process on the same data directory is refused by the running server", .enabled(if: Tools.haveFFmpeg))
    func sharedDataDirectory() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let oldKey = try server.createChannel("studio")
        // The CLI opens the same SQLite file on its own, as `liveloop channels rotate-key` does.
        let cli = try Storage.SQLiteStore(directory: server.dataDirectory)
        let newKey = try cli.rotateKey(name: "studio")
        let refused = try Tools.publish(to: server.rtmpURL(key: oldKey), frames: 30)
        #expect(await Tools.waitForExit(refused, timeout: .seconds(15)) != 0)
        let accepted = try Tools.publish(to: server.rtmpURL(key: newKey), frames: 60)
        #expect(await eventually { (try? await server.get("/live/studio/media.m3u8"))?.status == 200 })
        accepted.terminate()
    }

    @Test("health and Prometheus metrics report the live channel")
    func metrics() async throws {
        let server = try await TestServer.start(demo: true)
        defer { Task { await server.stop() } }
        #expect(try await server.get("/healthz").status == 200)
        #expect(await eventually { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })
        try await Task.sleep(for: .seconds(1))
        let text = String(buffer: try await server.get("/metrics").body)
        #expect(text.contains(#"liveloop_publishers{channel="demo"} 1"#))
        #expect(text.contains(#"liveloop_viewers{channel="demo"} 1"#))
        let frameRate = text.split(separator: "\n").first { $0.hasPrefix(#"liveloop_ingest_frame_rate{channel="demo"}"#) }
        let fps = Double(frameRate?.split(separator: " ").last ?? "") ?? 0
        #expect(fps > 25 && fps < 35, "ingest frame rate \(fps)")
        #expect(text.contains("liveloop_http_media_bytes_out_total"))
    }

    @Test("graceful shutdown ends live playlists with EXT-X-ENDLIST, answering waiting requests")
    func gracefulShutdown() async throws {
        let server = try await TestServer.start(demo: true)
        #expect(await eventually { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })
        let playlist = ParsedMediaPlaylist(String(buffer: try await server.get("/live/demo/media.m3u8").body))
        let waiting = Task {
            try await server.get("/live/demo/media.m3u8?_HLS_msn=\(playlist.openSegmentSequence + 1)")
        }
        try await Task.sleep(for: .milliseconds(200))
        await server.group.triggerGracefulShutdown()
        let response = try await waiting.value
        #expect(response.status == 200)
        #expect(String(buffer: response.body).contains("#EXT-X-ENDLIST"))
        _ = try? await server.task.value
    }
}
