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

/// Recording and replay (docs/recording.md) with real parts: ffmpeg publishes over RTMP and SRT, ffprobe decodes the
/// VOD playlist over HTTP, the webhook receiver checks signatures, and a `kill -9` hits the real binary.
@Suite("recording", .serialized)
struct RecordingTests {

    static func recordOn(_ server: TestServer, _ channel: String) throws {
        try server.store.saveVideoSettings(channel: channel, ChannelVideoSettings(record: true))
    }

    static func recordings(_ port: Int, _ channel: String) async throws -> [[String: Any]] {
        let (status, body) = try await httpRequest(port: port, .GET, "/api/v1/channels/\(channel)/recordings", bearer: nil)
        #expect(status == 200)
        return body?["recordings"] as? [[String: Any]] ?? []
    }

    /// ffprobe's decoded frame counts and duration of a URL or file.
    static func probe(_ target: String) async throws -> (video: Int, audio: Int, duration: Double, errors: String) {
        let (_, out, errors) = try await Tools.output("ffprobe", [
            "-v", "error", "-count_frames", "-show_entries", "stream=codec_type,nb_read_frames:format=duration", "-of", "json", target,
        ])
        let json = (try? JSONSerialization.jsonObject(with: Data(out.utf8))) as? [String: Any]
        let streams = json?["streams"] as? [[String: Any]] ?? []
        func frames(_ type: String) -> Int {
            Int(streams.first { $0["codec_type"] as? String == type }?["nb_read_frames"] as? String ?? "") ?? 0
        }
        let duration = Double((json?["format"] as? [String: Any])?["duration"] as? String ?? "") ?? 0
        return (frames("video"), frames("audio"), duration, errors)
    }

    func send(_ port: Int, _ channel: String, _ key: String, _ body: String) async throws -> [String: Any]? {
        let (status, answer) = try await httpRequest(port: port, .POST, "/api/v1/channels/\(channel)/messages", bearer: key, body: body)
        #expect(status == 200, "\(body) → \(status) \(String(describing: answer))")
        return answer
    }

    @Test("RTMP with record on: the VOD playlist decodes with every frame and the audio, carries the poll's cues, and recording.ready arrives signed",
          .enabled(if: Tools.haveFFmpeg, "needs ffmpeg"))
    func rtmpRecording() async throws {
        let receiver = try await WebhookReceiver.start()
        receiver.configure(secret: WebhookDeliveryTests.secret)
        let server = try await TestServer.start()
        defer { Task { await server.stop(); await receiver.stop() } }
        let key = try server.createChannel("show")
        try Self.recordOn(server, "show")
        let admin = try #require(try server.store.ensureAdminKey())
        _ = try await WebhookDeliveryTests.subscribe(server, key: admin, url: receiver.url, events: ["recording.ready"])

        let published = 180
        let ffmpeg = try Tools.publish(to: server.rtmpURL(key: key), frames: published, preset: "ultrafast")
        defer { if ffmpeg.isRunning { ffmpeg.terminate() } }
        #expect(await eventually { server.server.recordings.activeID(channel: "show") != nil }, "a recorder started with the broadcast")
        #expect(await eventually { server.server.registry.broadcast("show")?.streamClock != nil })
        try await Task.sleep(for: .seconds(1))
        let created = try await send(server.httpPort, "show", admin,
                                     #"{"v":1,"type":"poll.create","id":"c1","question":"Tea or coffee?","options":["tea","coffee"]}"#)
        let pollID = try #require(created?["ref"] as? String)
        _ = try await send(server.httpPort, "show", admin, #"{"v":1,"type":"poll.launch","id":"l1","pollID":"\#(pollID)"}"#)
        _ = try await send(server.httpPort, "show", admin, #"{"v":1,"type":"chat.send","id":"m1","text":"hello recording"}"#)
        try await Task.sleep(for: .seconds(1))
        _ = try await send(server.httpPort, "show", admin, #"{"v":1,"type":"poll.close","id":"x1","pollID":"\#(pollID)"}"#)
        _ = try await send(server.httpPort, "show", admin, #"{"v":1,"type":"poll.reveal","id":"r1","pollID":"\#(pollID)"}"#)
        _ = await Tools.waitForExit(ffmpeg)

        // The broadcast ends after the 2 s grace; the recorder finishes and says so.
        #expect(await eventually(timeout: .seconds(20)) { !receiver.deliveries(ofType: "recording.ready").isEmpty })
        let ready = try #require(receiver.deliveries(ofType: "recording.ready").first)
        #expect(ready.verified, "the recording.ready signature checks out")
        let id = try #require(ready.data["recordingID"] as? String)
        #expect(ready.data["url"] as? String == "/vod/show/\(id)/index.m3u8")
        let broadcastID = try #require(server.server.recordings.disk.info(channel: "show", id: id)?.broadcastID)
        #expect(id == broadcastID, "the first recording of a broadcast is named by its analytics id")

        let list = try await Self.recordings(server.httpPort, "show")
        #expect(list.count == 1)
        let entry = try #require(list.first)
        #expect(entry["id"] as? String == id)
        #expect(entry["state"] as? String == "complete")
        #expect(entry["playlistURL"] as? String == "/vod/show/\(id)/index.m3u8")
        #expect((entry["bytes"] as? Int ?? 0) > 10_000)
        let duration = try #require(entry["durationSeconds"] as? Double)
        #expect(abs(duration - Double(published) / 30) < 0.6, "recorded \(duration) s of \(Double(published) / 30) s")

        let playlist = try await server.get("/vod/show/\(id)/index.m3u8")
        let text = String(buffer: playlist.body)
        #expect(text.contains("#EXT-X-PLAYLIST-TYPE:VOD") && text.contains("#EXT-X-ENDLIST"))
        #expect(text.contains("#EXT-X-BYTERANGE:") && text.contains("#EXT-X-MAP:URI=\"media0.mp4\",BYTERANGE="))
        #expect(text.contains("#EXT-X-PROGRAM-DATE-TIME:"))
        for kind in ["poll.launch", "poll.close", "poll.reveal"] {
            #expect(text.contains("X-LIVELOOP-KIND=\"\(kind)\""), "the \(kind) cue is an EXT-X-DATERANGE:\n\(text)")
        }

        let probe = try await Self.probe("http://127.0.0.1:\(server.httpPort)/vod/show/\(id)/index.m3u8")
        #expect(probe.video >= published - 3 && probe.video <= published, "decoded \(probe.video) of \(published) frames: \(probe.errors)")
        #expect(probe.audio > published * 48_000 / 1024 / 30 * 9 / 10, "decoded \(probe.audio) audio frames")
        #expect(abs(probe.duration - Double(published) / 30) < 0.6, "duration \(probe.duration)")

        // The timeline holds what viewers saw, at media times inside the recording.
        let (status, timeline) = try await httpRequest(port: server.httpPort, .GET, "/vod/show/\(id)/timeline.json", bearer: nil)
        #expect(status == 200)
        let events = try #require(timeline?["events"] as? [[String: Any]])
        let types = events.compactMap { ($0["m"] as? [String: Any])?["type"] as? String }
        #expect(types.contains("poll") && types.contains("results") && types.contains("chat"), "\(types)")
        let start = try #require(entry["mediaStart"] as? Double)
        for event in events {
            let t = try #require(event["t"] as? Double)
            #expect(t >= start && t <= start + duration, "event at \(t) within \(start)…\(start + duration)")
        }
    }

    @Test("SRT with record switched on while live: the recording starts then, and ffprobe decodes it",
          .enabled(if: Tools.haveFFmpeg, "needs ffmpeg"))
    func srtRecordingSwitchedOn() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        guard let port = server.srtPort else { return }  // no libsrt here: SRTIngestTests says so
        let key = try server.createChannel("show")
        let admin = try #require(try server.store.ensureAdminKey())
        let ffmpeg = try Tools.run("ffmpeg", [
            "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-frames:v", "240", "-shortest",
            "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac",
            "-f", "mpegts", "srt://127.0.0.1:\(port)?streamid=\(key)&latency=200000",
        ])
        defer { if ffmpeg.isRunning { ffmpeg.terminate() } }
        #expect(await eventually { server.server.registry.broadcast("show")?.isLive == true })
        try await Task.sleep(for: .seconds(2))
        #expect(server.server.recordings.activeID(channel: "show") == nil, "record is off")
        let (status, _) = try await httpRequest(port: server.httpPort, .PUT, "/api/v1/channels/show/video", bearer: admin, body: #"{"record":true}"#)
        #expect(status == 200)
        #expect(server.server.recordings.activeID(channel: "show") != nil, "switching record on starts recording the live broadcast")
        _ = await Tools.waitForExit(ffmpeg)
        #expect(await eventually(timeout: .seconds(20)) { server.server.recordings.activeID(channel: "show") == nil })
        let entry = try #require(try await Self.recordings(server.httpPort, "show").first)
        #expect(entry["state"] as? String == "complete")
        let id = try #require(entry["id"] as? String)
        let probe = try await Self.probe("http://127.0.0.1:\(server.httpPort)/vod/show/\(id)/index.m3u8")
        // About 6 of the 8 seconds were recorded: from the first keyframe after the switch.
        #expect(probe.video > 120 && probe.video < 240, "decoded \(probe.video) frames: \(probe.errors)")
        #expect(probe.audio > 0)
    }

    @Test("recordings API: list, get, delete by the host only, with JSON error bodies; retention removes the old ones")
    func api() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("show")
        let admin = try #require(try server.store.ensureAdminKey())
        let disk = server.server.recordings.disk
        var old = try disk.create(channel: "show", broadcastID: "b1000", startedAt: Date().addingTimeInterval(-40 * 86_400))
        old.state = .complete
        old.endedAt = old.startedAt.addingTimeInterval(60)
        try disk.save(old)
        var recent = try disk.create(channel: "show", broadcastID: "b2000", startedAt: Date().addingTimeInterval(-3600))
        recent.state = .complete
        recent.endedAt = Date()
        try disk.save(recent)

        let list = try await Self.recordings(server.httpPort, "show")
        #expect(list.compactMap { $0["id"] as? String } == ["b2000", "b1000"], "newest first")
        let (one, body) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/recordings/b2000", bearer: nil)
        #expect(one == 200 && body?["watchURL"] as? String == "/watch/show?recording=b2000")

        for (path, code) in [("/api/v1/channels/nope/recordings", "not_found"), ("/api/v1/channels/show/recordings/b9",  "not_found"),
                             ("/api/v1/channels/show/recordings/..%2Fx", "not_found"), ("/vod/show/b9/index.m3u8", "not_found"),
                             ("/vod/show/b2000/segments.jsonl", "not_found")] {
            let (status, error) = try await httpRequest(port: server.httpPort, .GET, path, bearer: nil)
            #expect(status == 404, "\(path)")
            #expect((error?["error"] as? [String: Any])?["code"] as? String == code, "\(path): \(String(describing: error))")
        }
        let viewer = try await server.server.tokens.mint(LiveloopClaims(sub: "v", name: "v", role: .viewer, channel: "show",
                                                                         expires: Date().addingTimeInterval(600)))
        let (anonymous, refusal) = try await httpRequest(port: server.httpPort, .DELETE, "/api/v1/channels/show/recordings/b2000", bearer: nil)
        #expect(anonymous == 401 && (refusal?["error"] as? [String: Any])?["code"] as? String == "unauthorized")
        let (forbidden, _) = try await httpRequest(port: server.httpPort, .DELETE, "/api/v1/channels/show/recordings/b2000", bearer: viewer)
        #expect(forbidden == 403)
        let (deleted, _) = try await httpRequest(port: server.httpPort, .DELETE, "/api/v1/channels/show/recordings/b2000", bearer: admin)
        #expect(deleted == 204)
        let (again, _) = try await httpRequest(port: server.httpPort, .DELETE, "/api/v1/channels/show/recordings/b2000", bearer: admin)
        #expect(again == 404)

        // The default retention is 30 days: the 40-day-old recording goes, a fresh one stays.
        var fresh = try disk.create(channel: "show", broadcastID: "b3000", startedAt: Date())
        fresh.state = .complete
        fresh.endedAt = Date()
        try disk.save(fresh)
        #expect(server.server.recordings.prune(now: Date()) == ["b1000"])
        #expect(try await Self.recordings(server.httpPort, "show").compactMap { $0["id"] as? String } == ["b3000"])
    }

    @Test("a byte range of a recording's media is served as 206, a range past the end as 416")
    func ranges() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("show")
        let disk = server.server.recordings.disk
        var info = try disk.create(channel: "show", broadcastID: "b1", startedAt: Date())
        info.state = .complete
        try disk.save(info)
        let bytes = Data((0..<1000).map { UInt8(65 + $0 % 26) })
        try bytes.write(to: disk.folder(channel: "show", id: "b1").appendingPathComponent("media0.mp4"))
        let (_, head, _) = try await Tools.output("curl", ["-s", "-D", "-", "-o", "/dev/null", "-H", "Range: bytes=100-199",
                                                          "http://127.0.0.1:\(server.httpPort)/vod/show/b1/media0.mp4"])
        #expect(head.contains("206") && head.lowercased().contains("content-range: bytes 100-199/1000"), "\(head)")
        let (_, body, _) = try await Tools.output("curl", ["-s", "-H", "Range: bytes=990-", "http://127.0.0.1:\(server.httpPort)/vod/show/b1/media0.mp4"])
        #expect(Array(body.utf8) == Array(bytes[990...]))
        let (_, past, _) = try await Tools.output("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Range: bytes=5000-",
                                                          "http://127.0.0.1:\(server.httpPort)/vod/show/b1/media0.mp4"])
        #expect(past == "416")
    }
}

extension RecordingTests {
    static let replayScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("browser/replay.py").path

    @Test("Chromium replays a recording: the poll appears at its media moment with its results, and seeking lands on the right state",
          .enabled(if: Tools.haveFFmpeg && BrowserTests.haveBrowser, "needs ffmpeg, chromium, chromedriver and selenium"))
    func browserReplay() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let key = try server.createChannel("show")
        try Self.recordOn(server, "show")
        let admin = try #require(try server.store.ensureAdminKey())
        let ffmpeg = try Tools.publish(to: server.rtmpURL(key: key), frames: 30 * 10, preset: "ultrafast")
        defer { if ffmpeg.isRunning { ffmpeg.terminate() } }
        #expect(await eventually { server.server.registry.broadcast("show")?.streamClock != nil })
        try await Task.sleep(for: .seconds(3))
        let created = try await send(server.httpPort, "show", admin,
                                     #"{"v":1,"type":"poll.create","id":"c1","question":"Tea or coffee?","options":["tea","coffee"]}"#)
        let pollID = try #require(created?["ref"] as? String)
        _ = try await send(server.httpPort, "show", admin, #"{"v":1,"type":"poll.launch","id":"l1","pollID":"\#(pollID)"}"#)
        try await Task.sleep(for: .seconds(2))
        _ = try await send(server.httpPort, "show", admin, #"{"v":1,"type":"poll.close","id":"x1","pollID":"\#(pollID)"}"#)
        _ = try await send(server.httpPort, "show", admin, #"{"v":1,"type":"poll.reveal","id":"r1","pollID":"\#(pollID)"}"#)
        _ = await Tools.waitForExit(ffmpeg)
        #expect(await eventually(timeout: .seconds(20)) { (try? await Self.recordings(server.httpPort, "show").first?["state"] as? String) == "complete" })
        let id = try #require(try await Self.recordings(server.httpPort, "show").first?["id"] as? String)
        let arguments = [Self.replayScript, "http://127.0.0.1:\(server.httpPort)", "show", id, BrowserTests.artifacts]
        var (status, out, err) = try await Tools.output("python3", arguments)
        if status != 0 {
            print("replay run failed once, retrying: \(out.split(separator: "\n").last ?? "")")
            (status, out, err) = try await Tools.output("python3", arguments)
        }
        let summary = out.split(separator: "\n").last.map(String.init) ?? ""
        print("browser replay: \(summary)")
        #expect(status == 0, "replay.py: \(summary)\n\(err.suffix(2000))")
    }
}
