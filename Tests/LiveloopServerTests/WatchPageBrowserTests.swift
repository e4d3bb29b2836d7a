import Foundation
import Storage
import Testing

/// The watch page as a new viewer finds it, in Chromium at 1280×800 and 390×844 (Tests/browser/watchpage.py), against
/// streams real ffmpeg publishers send over RTMP: the overlay shows one whole question and lets finished cards go, the
/// page says the host is offline (not the viewer's connection) when the publisher stops, a publisher at 80 % of real
/// time and one with jittery audio timestamps still play in time, the latency target works its way back, the chat,
/// the shelf, the phone layout and paid gifts. Screenshots land in `artifacts/browser/watchpage-*.png`.
@Suite("watch page in the browser", .serialized)
struct WatchPageBrowserTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("browser/watchpage.py").path

    @Test("one whole question at a time and finished cards leave; host offline and broadcast ended over a placeholder; a slow publisher's cues on time; jittery audio keeps the picture moving; the viewer's target comes back; chat, shelf, phone typing and paid gifts",
          .enabled(if: BrowserTests.haveBrowser && Tools.haveFFmpeg, "needs chromium, chromedriver, selenium and ffmpeg"),
          .timeLimit(.minutes(10)))
    func watchPageInChromium() async throws {
        // A grace long enough to see "the host is offline" before the broadcast ends.
        let server = try await TestServer.start(grace: .seconds(5))
        defer { Task { await server.stop() } }
        let adminKey = try #require(try server.store.ensureAdminKey())
        try FileManager.default.createDirectory(atPath: BrowserTests.artifacts, withIntermediateDirectories: true)
        let environment = ["LIVELOOP_RTMP_URL": "rtmp://127.0.0.1:\(server.rtmpPort)/live"]
        let outcome = try await BrowserScript.run(Self.script, ["http://127.0.0.1:\(server.httpPort)", adminKey, BrowserTests.artifacts],
                                                  environment: environment, label: "watch page browser")
        let checks = outcome.checks
        let slow = checks?["slowPublisher"] as? [String: Any]
        #expect((slow?["pollShownAfterSeconds"] as? Double ?? 99) <= 1.5, "a poll on a slow publisher's stream: \(String(describing: slow))")
        #expect(slow?["toldBehind"] as? Bool == false, "the viewer is not blamed for a slow publisher")
        let jitter = checks?["jitteryAudio"] as? [String: Any]
        #expect((jitter?["frames"] as? Int ?? 0) >= 100, "frames presented in 6 s with jittery audio: \(String(describing: jitter))")
        let stop = (checks?["publisherStop"] as? [String: Any])?["1280x800"] as? [String: Any]
        #expect(((stop?["away"] as? [String: Any])?["status"] as? String)?.contains("host is offline") == true)
        #expect(((checks?["overlay"] as? [String: Any])?["lateJoinerCards"] as? [Any])?.isEmpty == true)
    }
}
