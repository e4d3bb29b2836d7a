import Foundation
import LiveMedia
import LiveloopServer
import Storage
import Testing

/// The watch page's WebRTC path in Debian's headless Chromium (Tests/browser/webrtc.py), on an ffmpeg RTMP stream: the
/// default where it works, the WebSocket where the node is full or the stream has B-frames.
@Suite("browser: WebRTC playback", .serialized)
struct WebRTCBrowserTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("browser/webrtc.py").path

    @Test("the page plays over WebRTC by default (video advances, getStats counts decoded frames and Opus packets); a refused viewer falls back to the WebSocket; both playheads agree on media time",
          .enabled(if: BrowserTests.haveBrowser && WebRTCNode.isAvailable, "needs chromium, chromedriver, selenium and OpenSSL 3"))
    func playsAndFallsBack() async throws {
        let server = try await TestServer.start(webrtcMaxViewers: 1)
        defer { Task { await server.stop() } }
        let key = try server.createChannel("show")
        let ffmpeg = try Tools.publish(to: server.rtmpURL(key: key), frames: 30 * 120, preset: "ultrafast", bFrames: 0)
        defer { ffmpeg.terminate() }
        let adminKey = try #require(try server.store.ensureAdminKey())
        let (status, out, err) = try await Tools.output("python3", [Self.script, "http://127.0.0.1:\(server.httpPort)", adminKey],
                                                       environment: ["LIVELOOP_TEST_CHANNEL": "show"])
        let summaryLine = out.split(separator: "\n").last.map(String.init) ?? ""
        print("browser webrtc: \(summaryLine)")
        #expect(status == 0, "webrtc.py: \(summaryLine)\n\(err.suffix(2000))")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(summaryLine.utf8)) as? [String: Any])
        let webrtc = summary["webrtc"] as? [String: Any]
        #expect((webrtc?["framesDecoded"] as? Int ?? 0) >= 60)
        #expect(webrtc?["size"] as? String == "640x360")
        #expect((webrtc?["audioPacketsReceived"] as? Int ?? 0) >= 50, "Opus reaches Chromium")
        #expect((summary["fallback"] as? [String: Any])?["mode"] as? String == "ws")
        #expect(summary["mediaTimes"] != nil)
    }

    @Test("a stream with B-frames: the page's automatic choice takes the WebSocket (Liveloop-B-Frames), ?mode=webrtc keeps WebRTC",
          .enabled(if: BrowserTests.haveBrowser && WebRTCNode.isAvailable, "needs chromium, chromedriver, selenium and OpenSSL 3"))
    func bFramesTakeTheWebSocket() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let key = try server.createChannel("show")
        let ffmpeg = try Tools.publish(to: server.rtmpURL(key: key), frames: 30 * 120, preset: "ultrafast", bFrames: 2)
        defer { ffmpeg.terminate() }
        let adminKey = try #require(try server.store.ensureAdminKey())
        let (status, out, err) = try await Tools.output("python3", [Self.script, "http://127.0.0.1:\(server.httpPort)", adminKey, "--bframes"],
                                                       environment: ["LIVELOOP_TEST_CHANNEL": "show"])
        let summaryLine = out.split(separator: "\n").last.map(String.init) ?? ""
        print("browser webrtc b-frames: \(summaryLine)")
        #expect(status == 0, "webrtc.py --bframes: \(summaryLine)\n\(err.suffix(2000))")
    }

    @Test("the publisher drops and comes back within the grace period: the WebRTC page says the picture stopped, then plays on over WebRTC",
          .enabled(if: BrowserTests.haveBrowser && WebRTCNode.isAvailable && Tools.haveFFmpeg, "needs chromium, chromedriver, selenium, OpenSSL 3 and ffmpeg"))
    func publisherDrops() async throws {
        let server = try await TestServer.start(grace: .seconds(20))
        defer { Task { await server.stop() } }
        let key = try server.createChannel("show")
        let adminKey = try #require(try server.store.ensureAdminKey())
        let (status, out, err) = try await Tools.output("python3", [Self.script, "http://127.0.0.1:\(server.httpPort)", adminKey,
                                                                    "--interrupt", server.rtmpURL(key: key)],
                                                       environment: ["LIVELOOP_TEST_CHANNEL": "show"])
        let summaryLine = out.split(separator: "\n").last.map(String.init) ?? ""
        print("browser webrtc publisher drop: \(summaryLine)")
        #expect(status == 0, "webrtc.py --interrupt: \(summaryLine)\n\(err.suffix(2000))")
    }

    static let goLive = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("browser/golive.py").path

    @Test("the studio goes live from Chromium's fake camera over WHIP: refused with a wrong key, on air with the right one, LL-HLS at the camera's size, a viewer's page plays it over WebRTC, End broadcast ends it",
          .enabled(if: BrowserTests.haveBrowser && WebRTCNode.isAvailable && Tools.haveFFmpeg, "needs chromium, chromedriver, selenium, OpenSSL 3 and ffmpeg"))
    func goLiveFromTheStudio() async throws {
        let server = try await TestServer.start(grace: .milliseconds(500))
        defer { Task { await server.stop() } }
        let key = try server.createChannel("cam")
        let adminKey = try #require(try server.store.ensureAdminKey())
        let (status, out, err) = try await Tools.output("python3", [Self.goLive, "http://127.0.0.1:\(server.httpPort)", adminKey, "cam", key])
        let summaryLine = out.split(separator: "\n").last.map(String.init) ?? ""
        print("browser go live: \(summaryLine)")
        #expect(status == 0, "golive.py: \(summaryLine)\n\(err.suffix(2000))")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(summaryLine.utf8)) as? [String: Any])
        #expect((summary["watch"] as? [String: Any])?["mode"] as? String == "webrtc")
        #expect((summary["secondsToOnAir"] as? Double ?? 99) < 5)
        // End broadcast DELETEd the session: the publish is over, and after the grace period so is the broadcast.
        #expect(await eventually(timeout: .seconds(10)) { server.server.registry.broadcast("cam")?.isLive != true })
    }
}
