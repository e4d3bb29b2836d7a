import Foundation
import LiveMedia
import Logging
import MediaFormats
import NIOCore
import Testing

/// Where ffprobe is, and running it on a thread of its own: waiting for a process blocks, and doing it on the two
/// threads of the cooperative pool would stall every other test on this 2-core machine.
enum FFprobe {
    static let path: String? = {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        return directories.map { "\($0)/ffprobe" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static func run(_ arguments: [String]) async throws -> (output: String, errors: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    continuation.resume(returning: try blockingRun(arguments))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    private static func blockingRun(_ arguments: [String]) throws -> (output: String, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path ?? "/usr/bin/ffprobe")
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
    }
}

@Suite("Segments with cues decode in ffprobe", .enabled(if: FFprobe.path != nil, "ffprobe is not installed"))
struct CueFFprobeTests {
    @Test("the demo clip with a prft before every moof and emsg cues in its segments: every frame still decodes")
    func decodesEveryFrame() async throws {
        let clip = try DemoClip()
        let broadcast = Broadcast(channel: "cues", configuration: HLSConfiguration(), startedAt: testEpoch, logger: Logger(label: "test"))
        broadcast.ingest(.videoConfiguration(clip.video), now: testEpoch)
        broadcast.ingest(.audioConfiguration(clip.audio), now: testEpoch)
        var cues = 0
        var videoFrames = 0
        for frame in clip.frames {
            let now = BroadcastFeed.time(of: frame)
            broadcast.ingest(.frame(frame), now: now)
            guard frame.track == .video else { continue }
            videoFrames += 1
            // A cue every 40 frames, two at once every 120, never after the last frame.
            guard videoFrames % 40 == 0, frame.dts < clip.frames.last?.dts ?? 0, let stamp = broadcast.cueStamp(at: now) else { continue }
            for copy in 0..<(videoFrames % 120 == 0 ? 2 : 1) {
                let cue = MediaCue(
                    id: "cue-\(videoFrames)-\(copy)", kind: copy == 0 ? "poll.launch" : "offer.show", mediaTime: stamp.mediaTime,
                    programDate: stamp.programDate, duration: copy == 0 ? nil : 4, payload: Array(#"{"n":\#(videoFrames)}"#.utf8))
                #expect(broadcast.addCue(cue))
                cues += 1
            }
        }
        #expect(broadcast.end())
        #expect(cues >= 6)

        var file = try #require(broadcast.initSegment(version: 0))
        var msn = 0
        while let parts = broadcast.segment(msn: msn) {
            for var part in parts { file.writeBuffer(&part) }
            msn += 1
        }
        #expect(msn >= 4)
        let boxes = try ISOBMFFReader.boxes(in: file)
        let moofs = boxes.filter { $0.type == "moof" }.count
        #expect(boxes.filter { $0.type == "prft" }.count == moofs)
        #expect(boxes.filter { $0.type == "emsg" }.count == cues)
        let samples = try chunkSamples(in: file)
        let expectedVideo = samples.filter { $0.trackID == 1 }.count
        let expectedAudio = samples.filter { $0.trackID == 2 }.count
        #expect(expectedVideo == clip.framesFromFirstKeyframe.filter { $0.track == .video }.count)

        let url = FileManager.default.temporaryDirectory.appendingPathComponent("liveloop-cues-\(UUID().uuidString).mp4")
        try Data(file.readableBytesView).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let probe = try await FFprobe.run([
            "-v", "error", "-count_frames", "-show_entries", "stream=codec_type,nb_read_frames", "-of", "csv=p=0", url.path,
        ])
        #expect(probe.errors.isEmpty, "ffprobe reported: \(probe.errors)")
        let counts = Dictionary(
            probe.output.split(whereSeparator: \.isNewline).compactMap { line -> (String, Int)? in
                let fields = line.split(separator: ",").map(String.init)
                guard fields.count == 2, let count = Int(fields[1]) else { return nil }
                return (fields[0], count)
            },
            uniquingKeysWith: +)
        #expect(counts["video"] == expectedVideo)
        #expect(counts["audio"] == expectedAudio)
    }
}
