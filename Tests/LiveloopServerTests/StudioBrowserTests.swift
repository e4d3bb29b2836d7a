import Foundation
import LiveloopClient
import Storage
import Testing

/// The studio and the admin page in Chromium (Tests/browser/studiopage.py), at 1280×800 and 390×844, against the demo
/// channel: viewers on every path, the sync choice, used rundown items, the gift alert, the chat's room, the phone
/// order, the admin's sign-in and ingest URLs. Screenshots land in `artifacts/browser/`.
@Suite("studio and admin in the browser", .serialized)
struct StudioBrowserTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("browser/studiopage.py").path

    @Test("three WebSocket viewers and an LL-HLS reader: the studio shows them all with the breakdown, as health and /metrics do; split or lock-step said in words; a launched item says so; a gift alerts the host; the chat keeps its room; On air and Rundown first on a phone; the admin shows each channel's ingest",
          .enabled(if: BrowserTests.haveBrowser && InteractionGatewayTests.havePythonWebsockets, "needs chromium, chromedriver, selenium and websockets"),
          .timeLimit(.minutes(8)))
    func studioInChromium() async throws {
        let server = try await TestServer.start(demo: true)
        defer { Task { await server.stop() } }
        let adminKey = try #require(try server.store.ensureAdminKey())
        #expect(await eventually(timeout: .seconds(15)) { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })
        // This test's playlist requests and the script's LL-HLS reader come from one address: one LL-HLS viewer.
        try FileManager.default.createDirectory(atPath: BrowserTests.artifacts, withIntermediateDirectories: true)
        let outcome = try await BrowserScript.run(Self.script, ["http://127.0.0.1:\(server.httpPort)", adminKey, BrowserTests.artifacts],
                                                  label: "studio browser")
        let checks = outcome.checks
        let viewers = checks?["viewers"] as? [String: Any]
        #expect(viewers?["studio"] as? String == "5", "3 WebSocket viewers + the preview + 1 LL-HLS reader")
        #expect(viewers?["health"] as? Int == 5 && (viewers?["metrics"] as? NSNumber)?.doubleValue == 5)
        #expect((viewers?["breakdown"] as? String)?.contains("WebSocket 4") == true)
        let sync = checks?["sync"] as? [String: Any]
        #expect((sync?["split"] as? String)?.hasPrefix("Split") == true)
        #expect((sync?["lockstep"] as? String)?.hasPrefix("Lock-step") == true)
        #expect((sync?["quizWarning"] as? String)?.contains("Sync is split") == true)
        #expect((checks?["rundown"] as? [String: Any])?["afterReload"] as? String == "Launch again")
        #expect(((checks?["gift"] as? [String: Any])?["alert"] as? String)?.contains("Fan 0 sent Rocket") == true)
        #expect(checks?["phone"] != nil && checks?["chat"] != nil)
        let admin = checks?["admin"] as? [String: Any]
        #expect(((admin?["390x844"] as? [String: Any])?["ingest"] as? String)?.contains("rtmp://127.0.0.1:\(server.rtmpPort)/live") == true)
        #expect((((admin?["1280x800"] as? [String: Any])?["signInWidth"] as? NSNumber)?.doubleValue ?? 9999) <= 560)
    }
}
