import Foundation
import Storage
import Testing

/// The web experience in Debian's headless Chromium, driven by Selenium (Tests/browser/run.py): the watch page plays a
/// stream ffmpeg publishes over RTMP on the sub-second path under 1.5 s behind ingest, recovers from an outage, a tab
/// switch and a publisher reconnect, a poll launched over REST appears and a click votes,
/// the studio sees the count, chat makes a round trip, and screenshots land in `artifacts/browser/`.
@Suite("browser", .serialized)
struct BrowserTests {
    static var haveBrowser: Bool {
        Tools.path("chromium") != nil && Tools.path("chromedriver") != nil
            && (try? Tools.blockingOutput("python3", ["-c", "import selenium"]).0) == 0
    }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("browser/run.py").path
    static let artifacts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("artifacts/browser").path

    @Test("viewer page plays the stream at low latency, votes and chats; the studio sees it", .enabled(if: haveBrowser, "needs chromium, chromedriver and selenium"))
    func viewerAndStudio() async throws {
        // A real encoder: ffmpeg publishes H.264 High (B-frames) + AAC over RTMP, as OBS would.
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let key = try server.createChannel("show")
        let ffmpeg = try Tools.publish(to: server.rtmpURL(key: key), frames: 30 * 240, preset: "ultrafast")
        defer { ffmpeg.terminate() }
        let adminKey = try #require(try server.store.ensureAdminKey())
        try FileManager.default.createDirectory(atPath: Self.artifacts, withIntermediateDirectories: true)
        let environment = ["LIVELOOP_TEST_CHANNEL": "show"]
        let outcome = try await BrowserScript.run(Self.script, ["http://127.0.0.1:\(server.httpPort)", adminKey, Self.artifacts],
                                                  environment: environment, label: "browser")
        let summary = outcome.summary
        #expect(summary?["ok"] as? Bool == true)
        #expect(summary?["channel"] as? String == "show", "the page played the ffmpeg-published channel")
        #expect(summary?["identities"] as? String == "api", "viewers and the host sign in with minted tokens")
        let checks = summary?["checks"] as? [String: Any]
        let latency = checks?["latency"] as? [String: Any]
        let median = try #require(latency?["medianSeconds"] as? Double)
        #expect(median < 1.5, "playhead latency \(median) s")
        let recovery = checks?["recovery"] as? [String: Any]
        #expect(recovery != nil && (recovery?["publisherReconnect"] as? [String: Any])?["skipped"] == nil,
                "the recovery checks ran, the publisher reconnect included: \(String(describing: recovery))")
    }

    static let syncScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("browser/sync.py").path

    @Test("three viewers (two WebSocket, one LL-HLS) in lock-step show each cue within 100 ms of each other and of their playhead",
          .enabled(if: haveBrowser, "needs chromium, chromedriver and selenium"))
    func threeViewersInSync() async throws {
        let server = try await TestServer.start(demo: true)
        defer { Task { await server.stop() } }
        let adminKey = try #require(try server.store.ensureAdminKey())
        _ = try await BrowserScript.run(Self.syncScript, ["http://127.0.0.1:\(server.httpPort)", adminKey], label: "browser sync")
    }
}
