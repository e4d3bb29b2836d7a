import Foundation
import Interaction
import LiveMedia
import LiveloopClient
import LiveloopServer
import NIOCore
import NIOHTTP1
import Storage
import Synchronization
import Testing

/// What happens to a recording when things go wrong: the disk fills up, or the server is killed.
@Suite("recording failures", .serialized)
struct RecordingFailureTests {
    static var isRoot: Bool { getuid() == 0 && Tools.path("mount") != nil }

    @Test("a full disk (a 2 MiB tmpfs) stops the recording with one error line and a signed recording.failed; the live stream goes on",
          .enabled(if: Tools.haveFFmpeg && isRoot, "needs ffmpeg and root to mount a tmpfs"))
    func fullDisk() async throws {
        let data = NSTemporaryDirectory() + "liveloop-full-" + UUID().uuidString
        let recordings = data + "/recordings"
        try FileManager.default.createDirectory(atPath: recordings, withIntermediateDirectories: true)
        let (mounted, _, mountError) = try await Tools.output("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", recordings])
        try #require(mounted == 0, "mount: \(mountError)")
        let receiver = try await WebhookReceiver.start()
        receiver.configure(secret: WebhookDeliveryTests.secret)
        let capture = LogCapture()
        let server = try await TestServer.start(dataDirectory: data, logger: capture.logger)
        let key = try server.createChannel("show")
        try server.store.saveVideoSettings(channel: "show", ChannelVideoSettings(record: true))
        let admin = try #require(try server.store.ensureAdminKey())
        _ = try await WebhookDeliveryTests.subscribe(server, key: admin, url: receiver.url, events: ["recording.failed"])

        // About 4 Mbit/s: the 2 MiB fill in about four seconds.
        let ffmpeg = try Tools.run("ffmpeg", [
            "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-frames:v", "600", "-shortest",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-b:v", "4M", "-maxrate", "4M", "-bufsize", "2M",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv", server.rtmpURL(key: key),
        ])
        #expect(await eventually(timeout: .seconds(20)) { !receiver.deliveries(ofType: "recording.failed").isEmpty })
        let failed = try #require(receiver.deliveries(ofType: "recording.failed").first)
        #expect(failed.verified)
        #expect((failed.data["error"] as? String)?.contains("no space left") == true, "\(failed.data)")
        let id = try #require(failed.data["recordingID"] as? String)

        // The stream goes on: the broadcast is live and its playlist keeps growing.
        let before = try await server.get("/live/show/media.m3u8")
        try await Task.sleep(for: .seconds(3))
        let after = try await server.get("/live/show/media.m3u8")
        #expect(server.server.registry.broadcast("show")?.isLive == true)
        let lastSegment = { (text: String) in text.split(separator: "\n").last { $0.hasPrefix("seg") }.map(String.init) }
        #expect(lastSegment(String(buffer: before.body)) != lastSegment(String(buffer: after.body)), "new segments after the failure")
        let lines = capture.lines.withLock { $0 }.filter { $0.contains("recording stopped") }
        #expect(lines.count == 1, "one clear log line: \(lines)")
        #expect(lines.first?.hasPrefix("error") == true && lines.first?.contains("no space left") == true)
        let (status, info) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/recordings/\(id)", bearer: nil)
        #expect(status == 200 && info?["state"] as? String == "failed", "\(String(describing: info))")
        // What was written plays.
        let probe = try await RecordingTests.probe("\(recordings)/show/\(id)/media0.mp4")
        #expect(probe.video > 30, "the cut-off file decodes: \(probe.video) frames, \(probe.errors)")
        ffmpeg.terminate()
        _ = await Tools.waitForExit(ffmpeg)
        await server.stop(keepingData: true)
        await receiver.stop()
        _ = try await Tools.output("umount", [recordings])
        try? FileManager.default.removeItem(atPath: data)
    }

    @Test("kill -9 of the server leaves a recording that ffprobe decodes, listed as interrupted and playable after a restart",
          .enabled(if: Tools.haveFFmpeg && LiveloopBinary.path != nil, "needs ffmpeg and the built liveloop binary"))
    func killNine() async throws {
        let data = NSTemporaryDirectory() + "liveloop-rec-kill-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: data) }
        let store = try SQLiteStore(directory: data)
        let key = try store.createChannel(name: "show").streamKey
        try store.saveVideoSettings(channel: "show", ChannelVideoSettings(record: true))

        var server = try LiveloopBinary.start(data: data)
        defer { server.kill() }
        #expect(await server.waitUntilHealthy())
        let ffmpeg = try Tools.publish(to: "rtmp://127.0.0.1:\(server.rtmpPort)/live/\(key)", frames: 30 * 30, preset: "ultrafast")
        defer { if ffmpeg.isRunning { ffmpeg.terminate() } }
        let folder = data + "/recordings/show"
        var recording = ""
        #expect(await eventually(timeout: .seconds(30)) {
            recording = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).first ?? ""
            let index = (try? String(contentsOfFile: "\(folder)/\(recording)/segments.jsonl", encoding: .utf8)) ?? ""
            return index.split(separator: "\n").count >= 3
        })
        server.kill()
        ffmpeg.terminate()

        let media = "\(folder)/\(recording)/media0.mp4"
        let probe = try await RecordingTests.probe(media)
        #expect(probe.video >= 150, "the killed server's file decodes: \(probe.video) frames")
        #expect(probe.audio > 0)
        #expect(!probe.errors.lowercased().contains("invalid data"), "\(probe.errors)")

        server = try LiveloopBinary.start(data: data)
        #expect(await server.waitUntilHealthy())
        let list = try await RecordingTests.recordings(server.httpPort, "show")
        #expect(list.first?["state"] as? String == "interrupted", "\(list)")
        let playlist = try await RecordingTests.probe("http://127.0.0.1:\(server.httpPort)/vod/show/\(recording)/index.m3u8")
        #expect(playlist.video >= 150 && playlist.video <= probe.video, "the VOD playlist plays to its last segment: \(playlist.video)")
    }
}
