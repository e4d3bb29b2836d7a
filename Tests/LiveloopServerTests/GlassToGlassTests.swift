import Foundation
import LiveloopServer
import Storage
import Testing

/// What a viewer sees, measured on the picture itself: glass-to-glass latency per delivery path read from a clock ffmpeg
/// burns into each frame (Tests/browser/glass.py), and a WebRTC viewer holding the channel's lock-step target beside a
/// WebSocket and an LL-HLS viewer (Tests/browser/sync.py with `LIVELOOP_SYNC_PATHS=webrtc`).
@Suite("browser: glass to glass", .serialized)
struct GlassToGlassTests {
    static let glassScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("browser/glass.py").path
    static var enabled: Bool { BrowserTests.haveBrowser && WebRTCNode.isAvailable }

    @Test("the burnt-in clock reaches the screen sooner over WebRTC than over the WebSocket, and sooner over both than over LL-HLS",
          .enabled(if: enabled, "needs chromium, chromedriver, selenium and OpenSSL 3"))
    func latencyPerPath() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let key = try server.createChannel("show")
        let adminKey = try #require(try server.store.ensureAdminKey())
        // glass.py runs its own ffmpeg publisher: the clock must be drawn at the moment each frame is made.
        let outcome = try await BrowserScript.run(Self.glassScript,
                                                  ["http://127.0.0.1:\(server.httpPort)", adminKey, server.rtmpURL(key: key),
                                                   "show", "webrtc", "ws", "hls"], label: "browser glass")
        let modes = try #require(outcome.summary?["modes"] as? [String: [String: Any]], "glass.py printed its modes")
        func p50(_ mode: String) -> Int? { modes[mode]?["p50Ms"] as? Int }
        func frames(_ mode: String) -> Int { modes[mode]?["frames"] as? Int ?? 0 }
        let webrtc = try #require(p50("webrtc")), ws = try #require(p50("ws")), hls = try #require(p50("hls"))
        #expect(frames("webrtc") >= 60 && frames("ws") >= 60 && frames("hls") >= 60, "every path showed readable frames")
        #expect(webrtc > 0 && ws > 0 && hls > 0, "a frame is shown after it was made: \(modes)")
        #expect(webrtc < ws, "WebRTC \(webrtc) ms is quicker than the WebSocket's \(ws) ms")
        #expect(ws < hls, "the WebSocket \(ws) ms is quicker than LL-HLS's \(hls) ms")
        // The figure the issue names is 300 ms p95 on an idle machine; a suite sharing two cores with its own encoder,
        // server and browser gets a looser bound that still tells a working path from a buffering one.
        let webrtcP95 = try #require(modes["webrtc"]?["p95Ms"] as? Int)
        #expect(webrtcP95 < 1000, "WebRTC p95 \(webrtcP95) ms")
    }

    @Test("a WebRTC viewer holds the channel's lock-step target: its cues land within 100 ms of a WebSocket and an LL-HLS viewer's",
          .enabled(if: enabled, "needs chromium, chromedriver, selenium and OpenSSL 3"))
    func webrtcInLockStep() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let key = try server.createChannel("show")
        let ffmpeg = try Tools.publish(to: server.rtmpURL(key: key), frames: 30 * 240, preset: "ultrafast", bFrames: 0)
        defer { ffmpeg.terminate() }
        let adminKey = try #require(try server.store.ensureAdminKey())
        let outcome = try await BrowserScript.run(BrowserTests.syncScript, ["http://127.0.0.1:\(server.httpPort)", adminKey],
                                                  environment: ["LIVELOOP_TEST_CHANNEL": "show", "LIVELOOP_SYNC_PATHS": "webrtc"],
                                                  label: "browser sync webrtc")
        #expect(outcome.summary?["ok"] as? Bool == true)
    }
}
