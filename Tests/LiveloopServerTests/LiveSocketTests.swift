import Foundation
import LiveloopClient
import NIOCore
import Testing

@Suite("sub-second path: fMP4 over WebSocket", .serialized)
struct LiveSocketTests {
    @Test("a WebSocket viewer gets codecs, the stream clock, an init segment and decodable fragments from a keyframe on",
          .enabled(if: Tools.haveFFmpeg && InteractionGatewayTests.havePythonWebsockets, "needs ffprobe and python3 websockets"))
    func liveFragments() async throws {
        let server = try await TestServer.start(demo: true)
        defer { Task { await server.stop() } }
        #expect(await eventually { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })
        let out = NSTemporaryDirectory() + "ws-\(UUID().uuidString).mp4"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let (status, stdout, stderr) = try await Tools.output("python3", [
            "\(InteractionGatewayTests.pythonDirectory)/live_ws_dump.py", "ws://127.0.0.1:\(server.httpPort)/live/demo/ws", out, "2.5",
        ])
        #expect(status == 0, "\(stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
        let initMessage = try #require(summary["init"] as? [String: Any])
        #expect((initMessage["codecs"] as? String)?.hasPrefix("avc1.64") == true)
        let clock = try #require(initMessage["clock"] as? [String: Any])
        #expect(clock["timescale"] as? Int == 90_000)
        let wallClock = try #require(clock["wallClock"] as? Double)
        #expect(abs(wallClock / 1000 - Date().timeIntervalSince1970) < 60)
        let fragments = try #require(summary["fragments"] as? Int)
        // 2.5 s at 30 fps, plus the catch-up from the last keyframe.
        #expect(fragments >= 60)
        let probe = try await Tools.probe(out)
        #expect(probe.errors.isEmpty, "ffprobe: \(probe.errors)")
        #expect(probe.videoFrames >= 60)
        #expect(probe.audioFrames > 0)
    }

    @Test("a channel that is not live refuses the upgrade")
    func notLive() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let response = try await server.get("/live/nobody/ws")
        #expect(response.status == 404 || response.status == 405)
    }
}

@Suite("thumbnails")
struct ThumbnailTests {
    @Test("a live channel has a JPEG thumbnail of its latest keyframe", .enabled(if: Tools.haveFFmpeg, "needs ffmpeg"))
    func thumbnail() async throws {
        let server = try await TestServer.start(demo: true)
        defer { Task { await server.stop() } }
        #expect(await eventually { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })
        let response = try await server.get("/live/demo/thumbnail.jpg")
        #expect(response.status == 200)
        #expect(response.header("content-type") == "image/jpeg")
        #expect(response.body.getBytes(at: response.body.readerIndex, length: 2) == [0xFF, 0xD8], "a JPEG")
        #expect(try await server.get("/live/nobody/thumbnail.jpg").status == 404)
    }
}
