import Foundation
import LiveMedia
import LiveloopClient
import LiveloopServer
import NIOCore
import Testing

/// WHIP publishing end to end, with aiortc (an independent WebRTC implementation, from PyPI) as the publisher and
/// ffprobe decoding what the server packaged as LL-HLS.
@Suite("WebRTC publishing (WHIP) with an aiortc publisher", .serialized,
       .enabled(if: Aiortc.isInstalled && WebRTCNode.isAvailable && Tools.haveFFmpeg, "needs python3 aiortc, OpenSSL 3 and ffmpeg"))
struct WHIPTests {
    static let script = "\(InteractionGatewayTests.pythonDirectory)/whip_client.py"

    static func run(_ arguments: [String]) async throws -> [String: Any] {
        try await WHEPTests.runJSON(script, arguments)
    }

    @Test("a browser-like publisher's H.264 (passed through) or VP8 (transcoded) and Opus come out of LL-HLS as H.264 and AAC that decode at their size without holes; DELETE needs the key and ends the publish",
          arguments: ["H264", "VP8"])
    func publishes(codec: String) async throws {
        let server = try await TestServer.start(grace: .milliseconds(500))
        defer { Task { await server.stop() } }
        let key = try server.createChannel("cam")
        let seconds = 8.0
        async let published = Self.run(["publish", "http://127.0.0.1:\(server.httpPort)", key, codec, "\(seconds)"])
        #expect(await eventually(timeout: .seconds(15)) { (try? await server.get("/live/cam/media.m3u8"))?.status == 200 })
        let reader = LLHLSReader(host: "127.0.0.1", port: server.httpPort, basePath: "/live/cam")
        let result = try await reader.follow(until: .now + .seconds(30), keepBytes: false)
        let publisher = try await published
        print("WHIP[\(codec)] publisher: \(publisher)")
        #expect(publisher["status"] as? Int == 201, "\(publisher)")
        #expect(publisher["contentType"] as? String == "application/sdp")
        #expect((publisher["location"] as? String)?.hasPrefix("/live/whip/") == true)
        #expect(publisher["answerRecvonly"] as? Bool == true)
        #expect((publisher["answerCodec"] as? String)?.hasPrefix(codec) == true, "the answer takes the codec offered")
        #expect((publisher["connectedSeconds"] as? Double ?? 99) < 2)
        #expect(publisher["deleteNoKey"] as? Int == 401)
        #expect(publisher["deleteWrongKey"] as? Int == 404)
        #expect(publisher["deleteStatus"] as? Int == 200)
        #expect(publisher["deleteAgainStatus"] as? Int == 404)
        #expect(result.ended, "after DELETE and the grace period, the playlist ends")

        let multivariant = String(buffer: try await server.get("/live/cam/index.m3u8").body)
        #expect(multivariant.contains("CODECS=\"avc1."))
        #expect(multivariant.contains("mp4a.40.2"))
        #expect(multivariant.contains("RESOLUTION=640x360"))
        let final = try #require(result.lastPlaylist)
        var file = try await server.get("/live/cam/init0.mp4").body
        for segment in final.segments {
            var body = try await server.get("/live/cam/\(segment.uri)").body
            file.writeBuffer(&body)
        }
        let path = NSTemporaryDirectory() + "whip-\(UUID().uuidString).mp4"
        try Data(file.readableBytesView).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let probe = try await Tools.probe(path)
        #expect(probe.errors.isEmpty, "ffprobe: \(probe.errors)")
        #expect(probe.width == 640 && probe.height == 360)
        // 8 s at 30 fps, less what passes before ffmpeg listens and the first keyframe it sees.
        #expect(probe.videoFrames >= 150, "decoded \(probe.videoFrames) video frames")
        #expect(probe.audioFrames >= 200, "decoded \(probe.audioFrames) AAC frames")
        let pts = probe.videoPTS.sorted()
        let gaps = zip(pts.dropFirst(), pts).map { $0 - $1 }
        // No keyframe group lost (that is a hole of a second or more); the test's own Python encoder sharing two cores
        // with ffmpeg may stall for a few frames, which shows as a gap of up to half a second.
        #expect((gaps.max() ?? 1) < 0.5, "no holes in the video: largest gap \(gaps.max() ?? -1) s")
        // Segments close at keyframes every segment target (1 s here): asked of the browser (H.264) or made by x264.
        let durations = final.segments.map(\.duration)
        #expect(durations.dropLast().allSatisfy { $0 < 2.5 }, "segment durations \(durations)")
        print("WHIP[\(codec)]: decoded \(probe.videoFrames) video / \(probe.audioFrames) audio frames, segments \(durations)")
    }

    @Test("refusals are JSON: 401 with WWW-Authenticate without a stream key, 400 bad_sdp, 415, 404 for an unknown session, 405 for trickle, 409 while the channel is live")
    func refusals() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let key = try server.createChannel("cam")
        let result = try await Self.run(["checks", "http://127.0.0.1:\(server.httpPort)", key])
        func check(_ name: String, _ status: Int, _ code: String) {
            let entry = result[name] as? [String: Any]
            #expect(entry?["status"] as? Int == status, "\(name): \(String(describing: entry))")
            #expect(entry?["code"] as? String == code, "\(name): \(String(describing: entry))")
        }
        check("noBearer", 401, "unauthorized")
        check("wrongKey", 401, "unauthorized")
        #expect((result["noBearer"] as? [String: Any])?["authenticate"] as? String == "Bearer")
        check("garbage", 400, "bad_sdp")
        check("receiveOnly", 400, "bad_sdp")
        check("noCodec", 400, "bad_sdp")
        check("noFingerprint", 400, "bad_sdp")
        check("wrongType", 415, "unsupported_media_type")
        check("deleteUnknown", 404, "not_found")
        check("patch", 405, "method_not_allowed")
        #expect((result["patch"] as? [String: Any])?["allow"] as? String == "DELETE")
        // Nothing above took the channel or a session.
        #expect(server.server.registry.broadcast("cam") == nil)
        #expect(server.server.webrtc.viewerCount == 0)

        // While an RTMP publisher holds the channel, a WHIP publish with its key is refused, and the RTMP one goes on.
        let ffmpeg = try Tools.publish(to: server.rtmpURL(key: key), frames: 30 * 30)
        defer { ffmpeg.terminate() }
        #expect(await eventually { (try? await server.get("/live/cam/media.m3u8"))?.status == 200 })
        let busy = try await Self.run(["publish", "http://127.0.0.1:\(server.httpPort)", key, "H264", "1"])
        #expect(busy["status"] as? Int == 409, "\(busy)")
        #expect((busy["body"] as? String)?.contains("channel_live") == true)
        #expect(server.server.registry.broadcast("cam")?.isLive == true)
    }
}
