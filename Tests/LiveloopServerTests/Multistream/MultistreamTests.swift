import Foundation
import LiveloopClient
@testable import LiveloopServer
import LiveMedia
import MediaFormats
import NIOCore
import NIOHTTP1
import Storage
import Testing

/// Multistream with real parts: ffmpeg publishes to Liveloop A, which pushes to a second Liveloop, to Debian's
/// nginx-rtmp, and to destinations that refuse or hang; ffprobe decodes what arrived.
@Suite("multistream: restreaming a live channel", .serialized,
       .enabled(if: Tools.haveFFmpeg, "needs ffmpeg and ffprobe"))
struct MultistreamTests {
    static func add(_ server: TestServer, _ admin: String, url: String, key: String, name: String) async throws -> String {
        let body = try String(decoding: JSONSerialization.data(withJSONObject: ["url": url, "key": key, "name": name]), as: UTF8.self)
        let (status, json) = try await httpJSON(port: server.httpPort, .POST, "/api/v1/channels/studio/destinations", bearer: admin, body: body)
        #expect(status == 201, "\(json ?? "")")
        return try #require((json as? [String: Any])?["id"] as? String)
    }

    /// Each destination's status by name, as the API shows it.
    static func statuses(_ server: TestServer, _ admin: String) async throws -> [String: [String: Any]] {
        let (_, json) = try await httpJSON(port: server.httpPort, .GET, "/api/v1/channels/studio/destinations", bearer: admin)
        var result: [String: [String: Any]] = [:]
        for item in json as? [[String: Any]] ?? [] {
            if let name = item["name"] as? String, let status = item["status"] as? [String: Any] { result[name] = status }
        }
        return result
    }

    static func state(_ statuses: [String: [String: Any]], _ name: String) -> String? { statuses[name]?["state"] as? String }
    static func number(_ statuses: [String: [String: Any]], _ name: String, _ field: String) -> Int {
        (statuses[name]?[field] as? NSNumber)?.intValue ?? 0
    }

    /// Plays the stream from nginx-rtmp for `seconds` of media with ffmpeg and decodes it with ffprobe.
    static func readBack(from nginx: NginxRTMPServer, key: String, seconds: Int) async throws -> Tools.Probe {
        let file = NSTemporaryDirectory() + "nginx-read-" + UUID().uuidString + ".flv"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (status, _, errors) = try await Tools.output("ffmpeg", [
            "-hide_banner", "-loglevel", "error", "-rw_timeout", "10000000", "-i", "rtmp://127.0.0.1:\(nginx.port)/live/\(key)",
            "-t", "\(seconds)", "-c", "copy", "-f", "flv", file,
        ])
        #expect(status == 0, "ffmpeg reading from nginx: \(errors)")
        return try await Tools.probe(file)
    }

    @Test("A pushes to a second Liveloop and to nginx-rtmp while a refusing and a hung destination retry; nginx going away and coming back is resumed, and nobody else notices",
          .enabled(if: NginxRTMPServer.available, "needs nginx with libnginx-mod-rtmp"))
    func restream() async throws {
        let a = try await TestServer.start(grace: .milliseconds(500))
        let b = try await TestServer.start(grace: .milliseconds(500), hls: HLSConfiguration(segmentTarget: 1.0, segmentCount: 200))
        let nginx = try NginxRTMPServer(port: try await RawTCP.unusedPort())
        try await nginx.start()
        let hung = try await BlackHole.start()
        let refusing = try await RawTCP.unusedPort()
        defer {
            Task {
                await nginx.stop()
                nginx.remove()
                await hung.close()
                await a.stop()
                await b.stop()
            }
        }
        let key = try a.createChannel("studio")
        let mirrorKey = try b.createChannel("mirror")
        let admin = try #require(try a.store.ensureAdminKey())
        _ = try await Self.add(a, admin, url: "rtmp://127.0.0.1:\(b.rtmpPort)/live", key: mirrorKey, name: "liveloop")
        _ = try await Self.add(a, admin, url: "rtmp://127.0.0.1:\(nginx.port)/live/", key: "relayed", name: "nginx")
        _ = try await Self.add(a, admin, url: "rtmp://127.0.0.1:\(refusing)/live", key: "nobody", name: "refusing")
        _ = try await Self.add(a, admin, url: "rtmp://127.0.0.1:\(hung.port)/live", key: "nobody", name: "hung")

        let ffmpeg = try Tools.publish(to: a.rtmpURL(key: key), frames: 30 * 120)
        defer { if ffmpeg.isRunning { Foundation.kill(ffmpeg.processIdentifier, SIGKILL) } }

        // Both working destinations go live; the two bad ones keep retrying with their reason.
        var statuses: [String: [String: Any]] = [:]
        let allLive = try await eventually(timeout: .seconds(20)) {
            statuses = try await Self.statuses(a, admin)
            return Self.state(statuses, "liveloop") == "live" && Self.state(statuses, "nginx") == "live"
        }
        #expect(allLive, "\(statuses)")
        #expect(await eventually(timeout: .seconds(15)) { (try? await b.get("/live/mirror/media.m3u8"))?.status == 200 },
                "B packages what A pushed")
        let failing = try await eventually(timeout: .seconds(15)) {
            statuses = try await Self.statuses(a, admin)
            return (statuses["refusing"]?["lastError"] as? String) != nil && (statuses["hung"]?["lastError"] as? String) != nil
        }
        #expect(failing, "\(statuses)")
        #expect(["retrying", "connecting"].contains(Self.state(statuses, "refusing")))
        #expect((statuses["refusing"]?["lastError"] as? String)?.contains("connect") == true, "\(statuses["refusing"] ?? [:])")
        #expect((statuses["hung"]?["lastError"] as? String)?.contains("in time") == true, "\(statuses["hung"] ?? [:])")
        #expect(Self.number(statuses, "refusing", "connects") == 0)

        // nginx plays back what A pushed.
        let first = try await Self.readBack(from: nginx, key: "relayed", seconds: 3)
        #expect(first.errors.isEmpty, "ffprobe on nginx's stream: \(first.errors)")
        #expect(first.videoFrames >= 60, "\(first.videoFrames) frames from nginx")
        #expect(first.audioFrames > 0)
        #expect(first.width == 640 && first.height == 360)

        // nginx dies mid-stream: its destination retries; B carries on.
        let bytesToB = Self.number(try await Self.statuses(a, admin), "liveloop", "bytesOut")
        await nginx.stop()
        let retrying = try await eventually(timeout: .seconds(15)) {
            statuses = try await Self.statuses(a, admin)
            return Self.state(statuses, "nginx") != "live"
        }
        #expect(retrying, "\(statuses)")
        try await Task.sleep(for: .seconds(2))
        try await nginx.start()
        let resumed = try await eventually(timeout: .seconds(20)) {
            statuses = try await Self.statuses(a, admin)
            return Self.state(statuses, "nginx") == "live" && Self.number(statuses, "nginx", "connects") == 2
        }
        #expect(resumed, "\(statuses)")
        #expect(statuses["nginx"]?["lastError"] as? String != nil, "the failure is kept")
        #expect(Self.state(statuses, "liveloop") == "live")
        #expect(Self.number(statuses, "liveloop", "connects") == 1, "B's push never dropped")
        #expect(Self.number(statuses, "liveloop", "bytesOut") > bytesToB)
        let second = try await Self.readBack(from: nginx, key: "relayed", seconds: 3)
        #expect(second.errors.isEmpty, "ffprobe on nginx's stream after it came back: \(second.errors)")
        #expect(second.videoFrames >= 30, "\(second.videoFrames) frames from nginx after it came back")

        // The publisher stops: A's broadcast ends, every push ends with it, and B's broadcast ends too.
        Foundation.kill(ffmpeg.processIdentifier, SIGKILL)
        _ = await Tools.waitForExit(ffmpeg)
        let idle = try await eventually(timeout: .seconds(15)) {
            statuses = try await Self.statuses(a, admin)
            return statuses.values.allSatisfy { $0["state"] as? String == "idle" }
        }
        #expect(idle, "\(statuses)")
        #expect(Self.number(statuses, "liveloop", "bytesOut") > 100_000, "the counters stay after the broadcast")
        var final = ParsedMediaPlaylist("")
        let ended = try await eventually(timeout: .seconds(15)) {
            final = ParsedMediaPlaylist(String(buffer: try await b.get("/live/mirror/media.m3u8").body))
            return final.ended
        }
        #expect(ended, "B's playlist ends once A's push ends")

        // B's stream, through nginx's outage and back, is whole: every frame, one frame apart.
        var file = try await b.get("/live/mirror/init0.mp4").body
        #expect(final.mediaSequence == 0)
        for segment in final.segments {
            var body = try await b.get("/live/mirror/\(segment.uri)").body
            file.writeBuffer(&body)
        }
        let path = NSTemporaryDirectory() + "mirror-" + UUID().uuidString + ".mp4"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(file.readableBytesView).write(to: URL(fileURLWithPath: path))
        let probe = try await Tools.probe(path)
        #expect(probe.errors.isEmpty, "ffprobe on B: \(probe.errors)")
        #expect(probe.videoFrames > 300, "\(probe.videoFrames) frames reached B")
        #expect(probe.audioFrames > 0)
        // The publisher was killed mid-GOP: the B-frames shown before its last P-frames never came, so the last few
        // presentation times are left out.
        let pts = Array(probe.videoPTS.sorted().dropLast(3))
        let gaps = zip(pts.dropFirst(), pts).map { $0 - $1 }.filter { abs($0 - 1.0 / 30) >= 0.002 }
        #expect(gaps.isEmpty, "B's video is continuous while nginx came and went: \(gaps)")
    }

    @Test("a destination that drops the connection gets sequence headers and a keyframe first on each connection, with timestamps that keep growing")
    func resumeAtKeyframe() async throws {
        let a = try await TestServer.start(grace: .milliseconds(500))
        let destination = RecordingRTMPServer()
        try await destination.start()
        defer {
            Task {
                await destination.close()
                await a.stop()
            }
        }
        let key = try a.createChannel("studio")
        let admin = try #require(try a.store.ensureAdminKey())
        _ = try await Self.add(a, admin, url: "rtmp://127.0.0.1:\(destination.port)/app/inner", key: "platform-key", name: "recorder")
        let ffmpeg = try Tools.publish(to: a.rtmpURL(key: key), frames: 30 * 60)
        defer { if ffmpeg.isRunning { Foundation.kill(ffmpeg.processIdentifier, SIGKILL) } }

        func frames(_ session: Int) -> Int {
            destination.sessions[safe: session]?.events.filter { if case .frame = $0 { true } else { false } }.count ?? 0
        }
        #expect(await eventually(timeout: .seconds(20)) { frames(0) > 90 })
        destination.dropConnections()
        #expect(await eventually(timeout: .seconds(20)) { frames(1) > 90 }, "the relay came back")
        Foundation.kill(ffmpeg.processIdentifier, SIGKILL)

        let sessions = destination.sessions
        // Liveloop's RTMP server names the application by the first component of the path (`app` of `app/inner`).
        #expect(sessions.allSatisfy { $0.app == "app" && $0.key == "platform-key" }, "\(sessions.map { ($0.app, $0.key) })")
        var lastDTS: Int64 = -1
        for (index, session) in sessions.prefix(2).enumerated() {
            let firstFrame = try #require(session.events.firstIndex { if case .frame = $0 { true } else { false } })
            let before = session.events[..<firstFrame]
            #expect(before.contains { if case .videoConfiguration = $0 { true } else { false } }, "AVC header first on connection \(index)")
            #expect(before.contains { if case .audioConfiguration = $0 { true } else { false } }, "AAC header first on connection \(index)")
            let video = session.events.compactMap { event -> (Int64, Bool)? in
                if case let .frame(.video, dts, keyframe) = event { (dts, keyframe) } else { nil }
            }
            #expect(video.first?.1 == true, "connection \(index) starts at a keyframe")
            let dts = video.map(\.0)
            #expect(zip(dts.dropFirst(), dts).allSatisfy { $0 > $1 }, "video timestamps grow on connection \(index)")
            #expect((dts.first ?? 0) > lastDTS, "connection \(index) goes on from where the last stopped")
            lastDTS = dts.last ?? lastDTS
        }
        let statuses = try await Self.statuses(a, admin)
        #expect(Self.number(statuses, "recorder", "connects") >= 2)
    }

    @Test("an rtmps:// destination is pushed over TLS, checked against the configured CA",
          .enabled(if: TestCertificates.haveOpenSSL, "needs openssl"))
    func rtmps() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let b = try await TestServer.start(grace: .milliseconds(500), tls: try await certificates.issue(serial: "0a"))
        var trusting = MultistreamConfiguration.testing
        trusting.trustedCAFile = certificates.caFile
        let a = try await TestServer.start(grace: .milliseconds(500), multistream: trusting)
        defer {
            Task {
                await a.stop()
                await b.stop()
            }
        }
        let key = try a.createChannel("studio")
        let mirrorKey = try b.createChannel("mirror")
        let admin = try #require(try a.store.ensureAdminKey())
        let rtmpsPort = try #require(b.rtmpsPort)
        _ = try await Self.add(a, admin, url: "rtmps://localhost:\(rtmpsPort)/live", key: mirrorKey, name: "tls")
        let ffmpeg = try Tools.publish(to: a.rtmpURL(key: key), frames: 30 * 30)
        defer { if ffmpeg.isRunning { Foundation.kill(ffmpeg.processIdentifier, SIGKILL) } }
        var statuses: [String: [String: Any]] = [:]
        let live = try await eventually(timeout: .seconds(20)) {
            statuses = try await Self.statuses(a, admin)
            return Self.state(statuses, "tls") == "live"
        }
        #expect(live, "\(statuses)")
        // B serves HTTPS on its HTTP port; ask it in process whether it packaged what came over RTMPS.
        #expect(await eventually(timeout: .seconds(15)) { b.server.registry.broadcast("mirror")?.rendition?.width == 640 },
                "B packages the pushed stream")
        Foundation.kill(ffmpeg.processIdentifier, SIGKILL)
    }

    @Test("an rtmps:// destination whose certificate is not trusted is refused and retried, with the reason",
          .enabled(if: TestCertificates.haveOpenSSL, "needs openssl"))
    func untrustedCertificate() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let b = try await TestServer.start(grace: .milliseconds(500), tls: try await certificates.issue(serial: "0b"))
        let a = try await TestServer.start(grace: .milliseconds(500))
        defer {
            Task {
                await a.stop()
                await b.stop()
            }
        }
        let key = try a.createChannel("studio")
        let mirrorKey = try b.createChannel("mirror")
        let admin = try #require(try a.store.ensureAdminKey())
        let rtmpsPort = try #require(b.rtmpsPort)
        _ = try await Self.add(a, admin, url: "rtmps://localhost:\(rtmpsPort)/live", key: mirrorKey, name: "tls")
        let ffmpeg = try Tools.publish(to: a.rtmpURL(key: key), frames: 30 * 20)
        defer { if ffmpeg.isRunning { Foundation.kill(ffmpeg.processIdentifier, SIGKILL) } }
        var statuses: [String: [String: Any]] = [:]
        let refused = try await eventually(timeout: .seconds(20)) {
            statuses = try await Self.statuses(a, admin)
            return (statuses["tls"]?["lastError"] as? String)?.contains("TLS") == true
        }
        #expect(refused, "\(statuses)")
        #expect(Self.number(statuses, "tls", "connects") == 0)
        #expect(b.server.registry.broadcast("mirror") == nil, "nothing reached B")
        Foundation.kill(ffmpeg.processIdentifier, SIGKILL)
    }
}
