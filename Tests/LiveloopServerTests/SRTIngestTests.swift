import Foundation
import LiveMedia
import LiveloopClient
import LiveloopServer
import MediaFormats
import NIOCore
import SRT
import Testing

extension Tools {
    /// Debian's ffmpeg is built with libsrt; the server needs libsrt too.
    static var haveSRT: Bool {
        guard haveFFmpeg, LibSRT.shared != nil,
              let (_, protocols, _) = try? blockingOutput("ffmpeg", ["-hide_banner", "-protocols"]) else { return false }
        return protocols.split(whereSeparator: \.isNewline).contains { $0.trimmingCharacters(in: .whitespaces) == "srt" }
    }

    /// An `srt://` caller URL. ffmpeg 5.1 does not percent-decode these options, so the values go in as they are
    /// (none may contain `&`).
    static func srtURL(port: Int, streamID: String, passphrase: String? = nil) -> String {
        var url = "srt://127.0.0.1:\(port)?mode=caller&latency=120000&linger=5&streamid=\(streamID)"
        if let passphrase { url += "&passphrase=\(passphrase)" }
        return url
    }

    /// ffmpeg publishing the same generated H.264 High (B-frames) + AAC as `publish(to:)`, as MPEG-TS over SRT.
    static func publishSRT(to url: String, frames: Int, rate: Int = 30, gop: Int = 30) throws -> Process {
        try run("ffmpeg", [
            "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=\(rate)",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-frames:v", "\(frames)", "-shortest",
            "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-bf", "2", "-g", "\(gop)", "-keyint_min", "\(gop)",
            "-sc_threshold", "0", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", url,
        ])
    }
}

/// SRT in, LL-HLS out, with real parts: Debian's ffmpeg as the caller, ffprobe decoding what the server packaged.
@Suite("SRT ingest: ffmpeg over srt://, LL-HLS out", .serialized, .enabled(if: Tools.haveSRT, "needs libsrt and ffmpeg built with it"))
struct SRTIngestTests {
    @Test("ffmpeg publishing over SRT (both stream id forms) comes out of LL-HLS decodable, continuous and with audio",
          arguments: ["KEY", "#!::r=live/KEY,m=publish", "#!::r=KEY,m=publish"])
    func endToEnd(form: String) async throws {
        let server = try await TestServer.start(grace: .milliseconds(500))
        defer { Task { await server.stop() } }
        let key = try server.createChannel("studio")
        let port = try #require(server.srtPort)
        let frames = 120
        let started = ContinuousClock.now
        let ffmpeg = try Tools.publishSRT(to: Tools.srtURL(port: port, streamID: form.replacingOccurrences(of: "KEY", with: key)), frames: frames)

        #expect(await eventually(timeout: .seconds(15)) { (try? await server.get("/live/studio/media.m3u8"))?.status == 200 })
        let firstPlaylist = ContinuousClock.now - started
        let reader = LLHLSReader(host: "127.0.0.1", port: server.httpPort, basePath: "/live/studio")
        let result = try await reader.follow(until: .now + .seconds(30), keepBytes: true)
        #expect(await Tools.waitForExit(ffmpeg) == 0)
        #expect(result.ended, "after the publisher leaves and the grace passes, the playlist ends")

        let multivariant = String(buffer: try await server.get("/live/studio/index.m3u8").body)
        #expect(multivariant.contains("CODECS=\"avc1.64"))
        #expect(multivariant.contains("mp4a.40.2"))
        #expect(multivariant.contains("RESOLUTION=640x360"))

        let final = try #require(result.lastPlaylist)
        let directory = NSTemporaryDirectory() + "srt-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var file = try await server.get("/live/studio/init0.mp4").body
        for segment in final.segments {
            var body = try await server.get("/live/studio/\(segment.uri)").body
            file.writeBuffer(&body)
        }
        let path = directory + "/all.mp4"
        try Data(file.readableBytesView).write(to: URL(fileURLWithPath: path))
        let probe = try await Tools.probe(path)
        let playlistText = String(buffer: try await server.get("/live/studio/media.m3u8").body)
        #expect(probe.errors.isEmpty, "ffprobe: \(probe.errors) on \(final.segments.map(\.uri)) with \(playlistText.prefix(600))")
        // `linger` in the URL makes ffmpeg deliver its last packets before closing (without it libsrt drops about a
        // latency and a PES of tail); SRT's TSBPD may still drop a late packet under load, so allow a frame or two.
        #expect(abs(probe.videoFrames - frames) <= 2, "decoded \(probe.videoFrames) of \(frames) frames")
        #expect(probe.audioFrames > 0)
        #expect(probe.width == 640 && probe.height == 360)
        let pts = probe.videoPTS.sorted()
        let gaps = zip(pts.dropFirst(), pts).map { $0 - $1 }
        #expect(gaps.allSatisfy { abs($0 - 1.0 / 30) < 0.002 }, "video timestamps are continuous: \(gaps.filter { abs($0 - 1.0 / 30) >= 0.002 })")
        print("SRT[\(form.hasPrefix("#") ? "access-control" : "plain")]: playlist after \(firstPlaylist), decoded \(probe.videoFrames)/\(frames) video, \(probe.audioFrames) audio frames, \(result.partsRead) parts read")
    }

    @Test("a wrong stream key is refused at the handshake: ffmpeg fails at once and nothing goes live")
    func wrongKey() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("studio")
        let port = try #require(server.srtPort)
        let started = ContinuousClock.now
        let ffmpeg = try Tools.publishSRT(to: Tools.srtURL(port: port, streamID: "#!::r=live/sk_wrong,m=publish"), frames: 300)
        let status = await Tools.waitForExit(ffmpeg, timeout: .seconds(10))
        let elapsed = ContinuousClock.now - started
        #expect(status != nil && status != 0)
        #expect(elapsed < .seconds(5), "refused at the handshake, not after a timeout: \(elapsed)")
        #expect(try await server.get("/live/studio/media.m3u8").status == 404)
        #expect(server.server.registry.broadcast("studio") == nil)
        print("SRT wrong key: ffmpeg exited \(status ?? -1) after \(elapsed)")
    }

    @Test("with a passphrase set, a caller with the wrong one is refused and one with the right one publishes")
    func passphrase() async throws {
        let server = try await TestServer.start(srtPassphrase: "correct-horse-battery")
        defer { Task { await server.stop() } }
        let key = try server.createChannel("studio")
        let port = try #require(server.srtPort)
        let wrong = try Tools.publishSRT(to: Tools.srtURL(port: port, streamID: key, passphrase: "wrong-passphrase"), frames: 300)
        let status = await Tools.waitForExit(wrong, timeout: .seconds(15))
        #expect(status != nil && status != 0)
        #expect(server.server.registry.broadcast("studio")?.isLive != true)

        let right = try Tools.publishSRT(to: Tools.srtURL(port: port, streamID: key, passphrase: "correct-horse-battery"), frames: 90)
        #expect(await eventually(timeout: .seconds(15)) { (try? await server.get("/live/studio/media.m3u8"))?.status == 200 })
        right.terminate()
        _ = await Tools.waitForExit(right)
    }

    @Test("garbage over SRT closes only that connection; another SRT publisher carries on")
    func garbage() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let good = try server.createChannel("good")
        let bad = try server.createChannel("bad")
        let port = try #require(server.srtPort)
        let publisher = try Tools.publishSRT(to: Tools.srtURL(port: port, streamID: good), frames: 300)
        defer { publisher.terminate() }
        #expect(await eventually(timeout: .seconds(15)) { (try? await server.get("/live/good/media.m3u8"))?.status == 200 })

        // Random bytes where TS should be.
        let noise = try Tools.run("ffmpeg", [
            "-hide_banner", "-loglevel", "error", "-re", "-f", "rawvideo", "-pixel_format", "gray", "-video_size", "64x64",
            "-framerate", "25", "-i", "/dev/urandom", "-t", "8", "-c", "copy", "-f", "rawvideo",
            Tools.srtURL(port: port, streamID: bad) + "&pkt_size=1316",
        ])
        defer { noise.terminate() }
        // The server closes the connection: ffmpeg's writes fail, and the channel never goes live.
        let status = await Tools.waitForExit(noise, timeout: .seconds(10))
        #expect(status != 0, "the garbage caller is disconnected before it finishes")
        #expect(server.server.registry.broadcast("bad")?.isLive != true)
        #expect(try await server.get("/live/bad/media.m3u8").status == 404)

        let before = try await server.get("/live/good/media.m3u8")
        try await Task.sleep(for: .seconds(2))
        let after = try await server.get("/live/good/media.m3u8")
        #expect(server.server.registry.broadcast("good")?.isLive == true)
        #expect(String(buffer: after.body) != String(buffer: before.body), "the good channel's playlist keeps moving")
    }
}
