import Foundation
import LiveloopClient
import LiveloopServer
import Testing

/// WHEP playback end to end, with aiortc (an independent WebRTC implementation, from PyPI) as the viewer.
@Suite("WebRTC playback (WHEP) with an aiortc viewer", .serialized,
       .enabled(if: Aiortc.isInstalled && WebRTCNode.isAvailable, "needs python3 aiortc and the system's OpenSSL 3"))
struct WHEPTests {
    static let script = "\(InteractionGatewayTests.pythonDirectory)/whep_client.py"

    static func run(_ arguments: [String]) async throws -> [String: Any] {
        try await runJSON(script, arguments)
    }

    /// Runs a Python test client that prints one JSON object (the WHEP and WHIP clients) and reads it.
    static func runJSON(_ script: String, _ arguments: [String]) async throws -> [String: Any] {
        let (status, stdout, stderr) = try await Tools.output("python3", [script] + arguments)
        #expect(status == 0, "\(URL(fileURLWithPath: script).lastPathComponent): \(stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any], "stdout: \(stdout) stderr: \(stderr)")
    }

    @Test("an aiortc viewer of an ffmpeg RTMP stream decodes its video at its size and its audio as Opus; garbage from strangers changes nothing; DELETE ends it",
          .enabled(if: Tools.haveFFmpeg, "needs ffmpeg"))
    func plays() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let key = try server.createChannel("show")
        let ffmpeg = try Tools.publish(to: server.rtmpURL(key: key), frames: 30 * 40, size: "640x360", gop: 30)
        defer { ffmpeg.terminate() }
        #expect(await eventually { (try? await server.get("/live/show/media.m3u8"))?.status == 200 })
        let port = try #require(server.server.webrtc.boundPort)
        let result = try await Self.run(["play", "http://127.0.0.1:\(server.httpPort)", "show", "\(port)", "90", "25"])
        print("WHEP aiortc viewer: \(result)")
        #expect(result["status"] as? Int == 201, "\(result)")
        #expect(result["contentType"] as? String == "application/sdp")
        #expect((result["location"] as? String)?.hasPrefix("/live/show/whep/") == true)
        // AAC from ffmpeg's RTMP stream, as Opus through the server's own ffmpeg: 20 ms frames, decoded at 48 kHz.
        #expect(result["audioOpus"] as? Bool == true, "\(result)")
        #expect((result["audioFrames"] as? Int ?? 0) >= 50, "\(result)")
        #expect(result["audioRates"] as? [Int] == [48000])
        #expect(result["frames"] as? Int == 90, "\(result)")
        #expect(result["sizes"] as? [String] == ["640x360"])
        #expect(result["garbageAnswered"] as? Int == 0)
        #expect((result["framesBeforeGarbage"] as? Int ?? 90) < 90)
        // It starts at the last keyframe the server holds, not the next one: well under a 1 s GOP plus setup.
        #expect((result["firstFrameSeconds"] as? Double ?? 99) < 3)
        #expect((result["packetsReceived"] as? Int ?? 0) > 90)
        #expect(result["deleteStatus"] as? Int == 200)
        #expect(result["deleteAgainStatus"] as? Int == 404)
        #expect(await eventually { server.server.webrtc.viewerCount == 0 })
    }

    @Test("bad offers and unsupported methods get JSON refusals: 400 bad_sdp, 415, 404, 405 for trickle")
    func refusals() async throws {
        let server = try await TestServer.start(demo: true)
        defer { Task { await server.stop() } }
        #expect(await eventually { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })
        let result = try await Self.run(["checks", "http://127.0.0.1:\(server.httpPort)", "demo"])
        func check(_ name: String, _ status: Int, _ code: String) {
            let entry = result[name] as? [String: Any]
            #expect(entry?["status"] as? Int == status, "\(name): \(String(describing: entry))")
            #expect(entry?["code"] as? String == code, "\(name): \(String(describing: entry))")
        }
        check("garbage", 400, "bad_sdp")
        check("noVideo", 400, "bad_sdp")
        check("noFingerprint", 400, "bad_sdp")
        check("wrongType", 415, "unsupported_media_type")
        check("notLive", 404, "not_found")
        check("deleteUnknown", 404, "not_found")
        check("patch", 405, "method_not_allowed")
        #expect((result["patch"] as? [String: Any])?["allow"] as? String == "DELETE")
        #expect(server.server.webrtc.viewerCount == 0)
    }

    @Test("past the node's viewer cap an offer gets 503 server_full; sessions that never do ICE are dropped after the setup timeout")
    func cap() async throws {
        let server = try await TestServer.start(demo: true, webrtcMaxViewers: 2)
        defer { Task { await server.stop() } }
        #expect(await eventually { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })
        let result = try await Self.run(["full", "http://127.0.0.1:\(server.httpPort)", "demo", "3"])
        #expect(result["statuses"] as? [Int] == [201, 201, 503])
        #expect((result["codes"] as? [Any])?.last as? String == "server_full")
        // The two offers were never followed by ICE: they go within the setup timeout, and their places free up.
        #expect(server.server.webrtc.viewerCount == 2)
        #expect(await eventually(timeout: .seconds(20)) { server.server.webrtc.viewerCount == 0 })
    }

    @Test("one client address holds at most 8 sessions: its 9th offer gets 429 rate_limited, the node's other slots stay free")
    func perAddressCap() async throws {
        let server = try await TestServer.start(demo: true, webrtcMaxViewers: 100)
        defer { Task { await server.stop() } }
        #expect(await eventually { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })
        let result = try await Self.run(["full", "http://127.0.0.1:\(server.httpPort)", "demo", "10"])
        #expect(result["statuses"] as? [Int] == Array(repeating: 201, count: 8) + [429, 429])
        #expect((result["codes"] as? [Any])?.last as? String == "rate_limited")
        #expect(server.server.webrtc.viewerCount == 8)
    }
}

@Suite("liveloop bench webrtc's own viewers", .serialized,
       .enabled(if: ConfigFileTests.haveBinary && WebRTCNode.isAvailable && Tools.haveFFmpeg, "needs the built liveloop, OpenSSL 3 and ffmpeg"))
struct BenchWebRTCTests {
    @Test("three native viewers of the 2.5 Mbit/s bench stream connect and see its 30 frames a second without a gap")
    func nativeViewers() async throws {
        let (status, out, err) = try await Tools.output(ConfigFileTests.binary, ["bench", "webrtc", "--viewers", "3", "--seconds", "3", "--json"])
        #expect(status == 0, "bench webrtc: \(err.suffix(1500))")
        let steps = try #require(try JSONSerialization.jsonObject(with: Data((out.split(separator: "\n").last ?? "").utf8)) as? [[String: Any]])
        let step = try #require(steps.first)
        print("bench webrtc, 3 native viewers: \(step)")
        #expect(step["connected"] as? Int == 3)
        #expect(step["packetsLost"] as? Int == 0)
        #expect((25.0...35.0).contains(step["framesPerViewerPerSecond"] as? Double ?? 0))
        // About 2.5 Mbit/s of video to each of the three.
        #expect((5.0...12.0).contains(step["megabitsPerSecondOut"] as? Double ?? 0))
    }
}

enum Aiortc {
    static var isInstalled: Bool {
        (try? Tools.blockingOutput("python3", ["-c", "import aiortc"]).0) == 0
    }
}
