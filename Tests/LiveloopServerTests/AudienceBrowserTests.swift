import Foundation
import LiveloopClient
import Storage
import Testing

/// Joining, the embed on another origin and members-only playback in Chromium (Tests/browser/audience.py), at
/// 1280×800 and 390×844, against the demo channel; screenshots land in `artifacts/browser/`.
@Suite("audience in the browser", .serialized)
struct AudienceBrowserTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("browser/audience.py").path

    @Test("join by name (one sub across reloads and tabs, one ballot), the SDK embed on another origin with postMessage events and branding, an offer click reaching the host page and counted at the playhead's media time, a sponsored poll whose sponsor click opens a tab, reaches the host page and is counted, a private channel locked without a token and playing with one",
          .enabled(if: BrowserTests.haveBrowser, "needs chromium, chromedriver and selenium"), .timeLimit(.minutes(8)))
    func audienceInChromium() async throws {
        let server = try await TestServer.start(demo: true)
        defer { Task { await server.stop() } }
        let adminKey = try #require(try server.store.ensureAdminKey())
        #expect(await eventually(timeout: .seconds(15)) { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })
        try FileManager.default.createDirectory(atPath: BrowserTests.artifacts, withIntermediateDirectories: true)
        let outcome = try await BrowserScript.run(Self.script, ["http://127.0.0.1:\(server.httpPort)", adminKey, BrowserTests.artifacts],
                                                  label: "audience browser")
        let checks = outcome.checks
        #expect((checks?["join"] as? [String: Any])?["ballotsFromTwoTabs"] as? Int == 1)
        let events = ((checks?["embed"] as? [String: Any])?["events"] as? [String]) ?? []
        #expect(["ready", "identity", "poll", "results"].allSatisfy(events.contains), "postMessage events seen: \(events)")
        #expect((checks?["membersOnly"] as? [String: Any])?["playsWith"] as? Bool == true)
        let offer = checks?["embedOffer"] as? [String: Any]
        #expect((offer?["hostEvent"] as? [String: Any])?["offerID"] as? String == "embed-tee", "offer.click on the host page")
        #expect(((offer?["server"] as? [String: Any])?["clicks"] as? Int ?? 0) >= 1, "the click counted on the server")
        #expect(offer?["tabsOpened"] as? Int == 0, "offerlinks=host: no navigation")
        if let counted = offer?["countedMediaTime"] as? Double, let playhead = offer?["playhead"] as? Double {
            #expect(abs(counted - playhead) <= 3, "the counted click's mediaTime \(counted) is the playhead \(playhead)")
        } else {
            Issue.record("the counted offer click has no mediaTime: \(String(describing: offer))")
        }
        let sponsored = checks?["sponsoredPoll"] as? [String: Any]
        #expect(sponsored?["link"] as? String == "https://acme.example/")
        #expect(sponsored?["rel"] as? String == "noopener sponsored" && sponsored?["target"] as? String == "_blank")
        #expect((sponsored?["hostEvent"] as? [String: Any])?["sponsor"] as? String == "Acme Coffee", "sponsor.click on the host page")
        #expect(((sponsored?["server"] as? [String: Any])?["clicks"] as? Int ?? 0) >= 1, "the sponsor click counted on the server")
    }
}
