import Foundation
import LiveloopClient
import MediaFormats
import NIOCore
import Testing

/// The foundation path with real parts: ffmpeg publishes over RTMP, an LL-HLS client reads, ffprobe decodes.
@Suite("video path: RTMP in, LL-HLS out", .serialized, .enabled(if: Tools.haveFFmpeg, "needs ffmpeg and ffprobe"))
struct VideoPathTests {
    @Test("every frame ffmpeg publishes comes out of LL-HLS parts and segments, decodable and continuous")
    func endToEnd() async throws {
        let server = try await TestServer.start(grace: .milliseconds(500))
        defer { Task { await server.stop() } }
        let key = try server.createChannel("studio")
        let frames = 150
        let ffmpeg = try Tools.publish(to: server.rtmpURL(key: key), frames: frames)

        #expect(await eventually { (try? await server.get("/live/studio/media.m3u8"))?.status == 200 })
        let reader = LLHLSReader(host: "127.0.0.1", port: server.httpPort, basePath: "/live/studio")
        // An old-fashioned client's first look.
        let result = try await reader.follow(until: .now + .seconds(30), keepBytes: true)
        #expect(await Tools.waitForExit(ffmpeg) == 0)
        #expect(result.ended, "after the publisher leaves and the grace passes, the playlist ends")

        // The multivariant playlist describes the rendition.
        let multivariant = try await server.get("/live/studio/index.m3u8")
        let text = String(buffer: multivariant.body)
        #expect(text.contains("CODECS=\"avc1.64"))
        #expect(text.contains("mp4a.40.2"))
        #expect(text.contains("RESOLUTION=640x360"))

        // The final playlist: segments at keyframes, program date times, parts within target.
        let final = try #require(result.lastPlaylist)
        let partDurations = final.parts.map(\.duration)
        let partTarget = try #require(final.partTarget)
        #expect(partTarget >= 0.2 && partTarget <= 0.2021)
        #expect(partDurations.allSatisfy { $0 <= partTarget + 1e-9 }, "parts never exceed PART-TARGET: \(partDurations)")
        #expect(final.segments.allSatisfy { $0.programDateTime != nil })
        let serverControl = try #require(final.serverControl)
        #expect(serverControl.contains("CAN-BLOCK-RELOAD=YES"))

        // Parts streamed while live: every frame arrived, in order, one frame apart.
        let partDTS = result.frames.map(\.dts)
        #expect(result.partsRead > 10)
        // It joins at the live edge (how late depends on the machine's load); from then on it must miss nothing.
        #expect(partDTS.count >= frames / 2, "the reader saw \(partDTS.count) frames")
        let partGaps = zip(partDTS.dropFirst(), partDTS).map { $0 - $1 }
        #expect(partGaps.allSatisfy { (2900...3100).contains($0) }, "no frame missing between parts: \(partGaps)")

        // Whole segments: init + every segment decodes to exactly the frames sent.
        let directory = NSTemporaryDirectory() + "ll-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var file = try await server.get("/live/studio/init0.mp4").body
        #expect(final.mediaSequence == 0, "a short broadcast keeps every segment")
        for segment in final.segments {
            let response = try await server.get("/live/studio/\(segment.uri)")
            #expect(response.status == 200)
            #expect(response.header("cache-control")?.contains("immutable") == true)
            var body = response.body
            file.writeBuffer(&body)
        }
        let path = directory + "/all.mp4"
        try Data(file.readableBytesView).write(to: URL(fileURLWithPath: path))
        let probe = try await Tools.probe(path)
        #expect(probe.errors.isEmpty, "ffprobe: \(probe.errors)")
        #expect(probe.videoFrames == frames)
        #expect(probe.audioFrames > 0)
        #expect(probe.width == 640 && probe.height == 360)
        let pts = probe.videoPTS.sorted()
        let gaps = zip(pts.dropFirst(), pts).map { $0 - $1 }
        #expect(gaps.allSatisfy { abs($0 - 1.0 / 30) < 0.002 }, "video timestamps are continuous: \(gaps.filter { abs($0 - 1.0 / 30) >= 0.002 })")

        // The streamed parts, concatenated after the init segment from the first part that starts a segment (a
        // keyframe), decode too, to exactly the video samples they carry.
        var partsFile = try await server.get("/live/studio/init0.mp4").body
        var samplesInParts = 0
        for (_, bytes) in result.parts.drop(while: { !$0.uri.hasSuffix(".0.m4s") }) {
            var bytes = bytes
            samplesInParts += try Self.videoSampleCount(bytes)
            partsFile.writeBuffer(&bytes)
        }
        #expect(samplesInParts >= frames / 3, "parts from the first keyframe on carry \(samplesInParts) frames")
        let partsPath = directory + "/parts.mp4"
        try Data(partsFile.readableBytesView).write(to: URL(fileURLWithPath: partsPath))
        let partsProbe = try await Tools.probe(partsPath)
        #expect(partsProbe.errors.isEmpty, "ffprobe on parts: \(partsProbe.errors)")
        #expect(partsProbe.videoFrames == samplesInParts)
    }

    /// Video samples (track 1) in a run of CMAF chunks.
    static func videoSampleCount(_ bytes: ByteBuffer) throws -> Int {
        try ISOBMFFReader.boxes(in: bytes).filter { $0.type == "moof" }.reduce(0) { total, moof in
            total + moof.children("traf").reduce(0) { sum, traf in
                guard (try? traf.child("tfhd")?.decodeTrackFragmentHeader().trackID) == 1,
                      let run = try? traf.child("trun")?.decodeTrackRun() else { return sum }
                return sum + Int(run.sampleCount)
            }
        }
    }

    @Test("a wrong stream key is refused and nothing goes live")
    func wrongKey() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("studio")
        let ffmpeg = try Tools.publish(to: server.rtmpURL(key: "sk_wrong"), frames: 60)
        let status = await Tools.waitForExit(ffmpeg, timeout: .seconds(15))
        #expect(status != 0)
        #expect(try await server.get("/live/studio/media.m3u8").status == 404)
    }

    @Test("a second publisher on a live channel is refused while the first carries on")
    func secondPublisher() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let key = try server.createChannel("studio")
        let first = try Tools.publish(to: server.rtmpURL(key: key), frames: 240)
        #expect(await eventually { (try? await server.get("/live/studio/media.m3u8"))?.status == 200 })
        let second = try Tools.publish(to: server.rtmpURL(key: key), frames: 60)
        #expect(await Tools.waitForExit(second, timeout: .seconds(15)) != 0)
        #expect(first.isRunning)
        let before = try await server.get("/live/studio/media.m3u8")
        try await Task.sleep(for: .seconds(1))
        let after = try await server.get("/live/studio/media.m3u8")
        #expect(String(buffer: before.body) != String(buffer: after.body), "the first publisher's stream still advances")
        first.terminate()
    }

    @Test("two channels stream at once without crosstalk")
    func twoChannels() async throws {
        let server = try await TestServer.start(grace: .milliseconds(300))
        defer { Task { await server.stop() } }
        let a = try server.createChannel("alpha")
        let b = try server.createChannel("bravo")
        let pa = try Tools.publish(to: server.rtmpURL(key: a), frames: 90, size: "640x360")
        let pb = try Tools.publish(to: server.rtmpURL(key: b), frames: 60, size: "320x240", rate: 20, gop: 20)
        #expect(await Tools.waitForExit(pa) == 0)
        #expect(await Tools.waitForExit(pb) == 0)
        #expect(await eventually { String(buffer: (try? await server.get("/live/bravo/media.m3u8"))?.body ?? ByteBuffer()).contains("ENDLIST") })
        #expect(await eventually { String(buffer: (try? await server.get("/live/alpha/media.m3u8"))?.body ?? ByteBuffer()).contains("ENDLIST") })
        for (name, frames, width) in [("alpha", 90, 640), ("bravo", 60, 320)] {
            let playlist = ParsedMediaPlaylist(String(buffer: try await server.get("/live/\(name)/media.m3u8").body))
            var file = try await server.get("/live/\(name)/init0.mp4").body
            for segment in playlist.segments {
                var body = try await server.get("/live/\(name)/\(segment.uri)").body
                file.writeBuffer(&body)
            }
            let path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString).mp4"
            try Data(file.readableBytesView).write(to: URL(fileURLWithPath: path))
            defer { try? FileManager.default.removeItem(atPath: path) }
            let probe = try await Tools.probe(path)
            #expect(probe.videoFrames == frames, "\(name)")
            #expect(probe.width == width, "\(name)")
            #expect(probe.errors.isEmpty)
        }
    }

    @Test("a publisher that reconnects within the grace period continues the playlist after a discontinuity")
    func reconnect() async throws {
        let server = try await TestServer.start(grace: .seconds(4))
        defer { Task { await server.stop() } }
        let key = try server.createChannel("studio")
        let first = try Tools.publish(to: server.rtmpURL(key: key), frames: 60)
        #expect(await Tools.waitForExit(first) == 0)
        let between = String(buffer: try await server.get("/live/studio/media.m3u8").body)
        #expect(!between.contains("ENDLIST"), "within the grace period the broadcast stays open")
        let second = try Tools.publish(to: server.rtmpURL(key: key), frames: 60)
        #expect(await Tools.waitForExit(second) == 0)
        let ended = await eventually(timeout: .seconds(10)) {
            String(buffer: (try? await server.get("/live/studio/media.m3u8"))?.body ?? ByteBuffer()).contains("#EXT-X-ENDLIST")
        }
        #expect(ended, "after the grace period the playlist ends")
        let playlist = ParsedMediaPlaylist(String(buffer: try await server.get("/live/studio/media.m3u8").body))
        #expect(playlist.segments.filter(\.discontinuity).count == 1)
        #expect(playlist.segments.first?.msn == 0)
        let dates = playlist.segments.compactMap(\.programDateTime)
        #expect(dates == dates.sorted(), "the stream clock stays continuous across the reconnect")
    }
}
