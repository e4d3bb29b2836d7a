import Foundation
import LiveMedia
import LiveloopClient
import LiveloopServer
import NIOCore
import Storage
import Testing

/// Adaptive bitrate with real parts: ffmpeg publishes (RTMP or SRT) to a channel with `720p,360p`, the server's
/// supervised ffmpeg makes the renditions, and ffprobe decodes every rendition's LL-HLS.
@Suite("Renditions: a supervised ffmpeg makes the ladder, LL-HLS serves every variant aligned", .serialized,
       .enabled(if: Tools.haveFFmpeg, "needs ffmpeg and ffprobe"))
struct RenditionTests {
    /// A small, short source on this 2-core machine: 1280×720 at 15 fps, a keyframe a second (the segment target).
    static let rate = 15
    static let frames = 150

    static func publisher(_ proto: String, server: TestServer, key: String) throws -> Process? {
        let source = [
            "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=\(rate)",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-frames:v", "\(frames)", "-shortest",
            "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "high", "-bf", "2", "-g", "\(rate)", "-keyint_min", "\(rate)",
            "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
        ]
        switch proto {
        case "srt":
            guard Tools.haveSRT, let port = server.srtPort else { return nil }
            return try Tools.run("ffmpeg", source + ["-f", "mpegts", Tools.srtURL(port: port, streamID: key)])
        default:
            return try Tools.run("ffmpeg", source + ["-f", "flv", server.rtmpURL(key: key)])
        }
    }

    /// One media playlist as this test reads it: each segment's number, init segment and whether it is a gap.
    struct Listed {
        var msn: Int
        var map: String
        var gap: Bool
        var uri: String
        /// An `EXT-X-DISCONTINUITY` precedes it (the transcoder restarted).
        var discontinuity = false
    }

    static func segments(_ playlist: String) -> [Listed] {
        var msn = 0
        var map = "init0.mp4"
        var gap = false
        var discontinuity = false
        var out: [Listed] = []
        for line in playlist.split(whereSeparator: \.isNewline).map(String.init) {
            if line.hasPrefix("#EXT-X-MEDIA-SEQUENCE:") { msn = Int(line.dropFirst(22)) ?? 0 }
            if line.hasPrefix("#EXT-X-MAP:URI=\"") { map = String(line.dropFirst(16).dropLast()) }
            if line == "#EXT-X-GAP" { gap = true }
            if line == "#EXT-X-DISCONTINUITY" { discontinuity = true }
            if !line.hasPrefix("#") {
                out.append(Listed(msn: msn, map: map, gap: gap, uri: line, discontinuity: discontinuity))
                msn += 1
                gap = false
                discontinuity = false
            }
        }
        return out
    }

    /// Decodes one segment (with its init segment) with ffprobe.
    static func probe(server: TestServer, base: String, segment: Listed, directory: String) async throws -> Tools.Probe {
        var file = try await server.get("\(base)/\(segment.map)").body
        var body = try await server.get("\(base)/\(segment.uri)").body
        file.writeBuffer(&body)
        let path = "\(directory)/\(base.split(separator: "/").last ?? "x")-\(segment.msn).mp4"
        try Data(file.readableBytesView).write(to: URL(fileURLWithPath: path))
        return try await Tools.probe(path)
    }

    @Test("ffmpeg over RTMP and SRT to a 720p,360p channel: every variant decodes, aligned, listed and reported; a killed transcoder comes back",
          arguments: ["rtmp", "srt"])
    func ladder(proto: String) async throws {
        let server = try await TestServer.start(grace: .milliseconds(500))
        defer { Task { await server.stop() } }
        let key = try server.createChannel("abr")
        try await server.server.video.apply(.init(renditions: ["360p", "720p"]), channel: "abr")
        guard let publisher = try Self.publisher(proto, server: server, key: key) else {
            print("renditions[\(proto)]: skipped, no SRT here")
            return
        }

        // The multivariant playlist lists the source and both renditions with every attribute.
        var multivariant = ""
        #expect(await eventually(timeout: .seconds(20)) {
            multivariant = (try? await server.get("/live/abr/index.m3u8")).map { String(buffer: $0.body) } ?? ""
            return multivariant.contains("720p/media.m3u8") && multivariant.contains("360p/media.m3u8")
        }, "multivariant: \(multivariant)")
        let variants = multivariant.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("#EXT-X-STREAM-INF:") }
        #expect(variants.count == 3)
        for variant in variants {
            for attribute in ["BANDWIDTH=", "AVERAGE-BANDWIDTH=", "CODECS=\"avc1.", "mp4a.40.2", "RESOLUTION=", "FRAME-RATE="] {
                #expect(variant.contains(attribute), "\(variant) lacks \(attribute)")
            }
        }
        #expect(multivariant.contains("RESOLUTION=1280x720"))
        #expect(multivariant.contains("RESOLUTION=640x360"))

        // Each media playlist reports the other two renditions (once they have a part to report).
        var source = ""
        var rung = ""
        #expect(await eventually(timeout: .seconds(10)) {
            source = (try? await server.get("/live/abr/media.m3u8")).map { String(buffer: $0.body) } ?? ""
            rung = (try? await server.get("/live/abr/360p/media.m3u8")).map { String(buffer: $0.body) } ?? ""
            return source.components(separatedBy: "LAST-MSN=").count == 3 && rung.components(separatedBy: "LAST-MSN=").count == 3
        })
        #expect(source.contains("#EXT-X-RENDITION-REPORT:URI=\"720p/media.m3u8\",LAST-MSN="))
        #expect(source.contains("#EXT-X-RENDITION-REPORT:URI=\"360p/media.m3u8\",LAST-MSN="))
        #expect(rung.contains("#EXT-X-RENDITION-REPORT:URI=\"../media.m3u8\",LAST-MSN="))
        #expect(rung.contains("#EXT-X-RENDITION-REPORT:URI=\"../720p/media.m3u8\",LAST-MSN="))
        #expect(rung.contains("LAST-PART="))
        #expect((try await server.get("/live/abr/1080p/media.m3u8")).status == 404)

        // The supervisor restarts a killed ffmpeg, and the renditions go on.
        let firstPID = try #require(server.server.transcoders.pid(channel: "abr"))
        let before = Self.segments(String(buffer: try await server.get("/live/abr/720p/media.m3u8").body)).last?.msn ?? 0
        kill(firstPID, SIGKILL)
        #expect(await eventually(timeout: .seconds(10)) {
            server.server.transcoders.pid(channel: "abr").map { $0 != firstPID } ?? false
        }, "a new ffmpeg runs")
        let starts = server.server.transcoders.starts(channel: "abr")
        #expect(starts == 2)
        #expect(await eventually(timeout: .seconds(10)) {
            let listed = Self.segments((try? await server.get("/live/abr/720p/media.m3u8")).map { String(buffer: $0.body) } ?? "")
            return listed.contains { !$0.gap && $0.msn > before + 1 }
        }, "the 720p rendition has segments again after the restart")

        #expect(await Tools.waitForExit(publisher, timeout: .seconds(40)) == 0)
        #expect(await eventually(timeout: .seconds(10)) {
            ((try? await server.get("/live/abr/360p/media.m3u8")).map { String(buffer: $0.body) } ?? "").contains("#EXT-X-ENDLIST")
        }, "the renditions end with the broadcast")
        #expect(await eventually(timeout: .seconds(5)) { server.server.transcoders.pid(channel: "abr") == nil }, "ffmpeg is stopped")

        // ffprobe decodes every segment of every variant; the same sequence number starts at the same time everywhere.
        let directory = NSTemporaryDirectory() + "abr-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var probes: [String: [Int: Tools.Probe]] = [:]
        var cutShort: [String: Set<Int>] = [:]
        for (base, height) in [("/live/abr", 720), ("/live/abr/720p", 720), ("/live/abr/360p", 360)] {
            let listed = Self.segments(String(buffer: try await server.get("\(base)/media.m3u8").body))
            // The segment a transcoder restart closed early: the one before a discontinuity, and the last.
            cutShort[base] = Set(listed.indices.filter { $0 + 1 == listed.count || listed[$0 + 1].discontinuity || listed[$0 + 1].gap }.map { listed[$0].msn })
            for segment in listed where !segment.gap {
                let probe = try await Self.probe(server: server, base: base, segment: segment, directory: directory)
                #expect(probe.errors.isEmpty, "\(base)/\(segment.uri): \(probe.errors)")
                #expect(probe.height == height, "\(base)/\(segment.uri) is \(probe.width)x\(probe.height)")
                if !(cutShort[base]?.contains(segment.msn) ?? false) {
                    #expect(probe.audioFrames > 0, "\(base)/\(segment.uri) has audio")
                }
                let pts = probe.videoPTS.sorted()
                let steps = zip(pts.dropFirst(), pts).map { $0 - $1 }
                #expect(steps.allSatisfy { abs($0 - 1.0 / Double(Self.rate)) < 0.002 }, "\(base)/\(segment.uri) is continuous: \(steps)")
                probes[base, default: [:]][segment.msn] = probe
            }
        }
        let sourceProbes = probes["/live/abr"] ?? [:]
        var compared = 0
        for rendition in ["/live/abr/720p", "/live/abr/360p"] {
            let own = probes[rendition] ?? [:]
            #expect(own.count >= 4, "\(rendition) kept \(own.count) segments")
            for (msn, probe) in own {
                guard let twin = sourceProbes[msn], let start = probe.videoPTS.min(), let twinStart = twin.videoPTS.min() else { continue }
                compared += 1
                #expect(abs(start - twinStart) < 1.0 / Double(Self.rate), "\(rendition) segment \(msn) starts at \(start), the source's at \(twinStart)")
                // The last segment before the restart or the end may be cut short; every other one holds the source's frames.
                if !(cutShort[rendition]?.contains(msn) ?? false) {
                    #expect(probe.videoFrames == twin.videoFrames, "\(rendition) segment \(msn): \(probe.videoFrames) frames, source \(twin.videoFrames)")
                }
            }
        }
        #expect(compared >= 8)
        print("renditions[\(proto)]: \(variants.count) variants, \(compared) segments compared, ffmpeg started \(starts) times")
    }

    static let qualityScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("browser/quality.py").path

    @Test("Chromium: the watch page's quality menu lists Auto and each variant, and the chosen one plays",
          .enabled(if: BrowserTests.haveBrowser, "needs chromium, chromedriver and selenium"))
    func qualityMenu() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let key = try server.createChannel("abr")
        try await server.server.video.apply(.init(renditions: ["360p"]), channel: "abr")
        let ffmpeg = try Tools.run("ffmpeg", [
            "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=\(Self.rate)", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-frames:v", "\(Self.rate * 120)", "-c:v", "libx264", "-preset", "ultrafast", "-g", "\(Self.rate)", "-sc_threshold", "0",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "flv", server.rtmpURL(key: key),
        ])
        defer { ffmpeg.terminate() }
        let adminKey = try #require(try server.store.ensureAdminKey())
        let (status, out, err) = try await Tools.output("python3", [Self.qualityScript, "http://127.0.0.1:\(server.httpPort)", adminKey],
                                                        environment: ["LIVELOOP_TEST_CHANNEL": "abr"])
        let summary = out.split(separator: "\n").last.map(String.init) ?? ""
        print("quality menu: \(summary)")
        #expect(status == 0, "quality.py: \(summary)\n\(err.suffix(2000))")
    }
}
