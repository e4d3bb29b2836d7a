import ArgumentParser
import Foundation
import LiveMedia
import LiveloopServer
import Logging
import ServiceLifecycle
import Storage

/// `liveloop bench renditions`: the CPU each rung of the ladder costs on this machine.
struct BenchRenditions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renditions",
        abstract: "CPU per rendition: the server's transcoding ffmpeg and the server itself, for each rung of the ladder.",
        discussion: """
        Runs a server in this process on free loopback ports with a temporary data directory, and an ffmpeg publishing \
        a generated stream (H.264 + AAC) to it over RTMP. For the source alone, then each rendition alone, then the \
        whole ladder, it measures over --duration seconds (after 3 s of warm-up) the CPU seconds per stream second of \
        the channel's transcoding ffmpeg (from /proc) and of the server process. The publisher's own CPU is not counted.
        """
    )

    @Option(help: "Seconds measured for each ladder.")
    var duration = 10.0
    @Option(help: "The ladder: rendition names, highest first or not (1080p, 720p, 480p, 360p, 240p).")
    var renditions = "720p,480p,360p"
    @Option(help: "The published source's size.")
    var size = "1280x720"
    @Option(help: "The published source's frame rate.")
    var rate = 30
    @Flag(help: "Print JSON instead of the table.")
    var json = false

    func validate() throws {
        guard duration >= 2, duration <= 600 else { throw ValidationError("--duration must be 2–600 seconds") }
        guard rate >= 1, rate <= 60 else { throw ValidationError("--rate must be 1–60") }
        guard size.wholeMatch(of: /[0-9]{2,4}x[0-9]{2,4}/) != nil else { throw ValidationError("--size must be WIDTHxHEIGHT") }
        if case let .failure(error) = RenditionPreset.ladder(ladder) { throw ValidationError("--renditions: \(error)") }
    }

    private var ladder: [String] { renditions.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    struct Row: Encodable {
        var renditions: [String]
        var ffmpegCPUPerSecond: Double
        var serverCPUPerSecond: Double
    }

    func run() async throws {
        guard let ffmpeg = BenchSupport.executable("ffmpeg") else { throw ValidationError("ffmpeg is not installed") }
        let log: (String) -> Void = json ? { _ in } : { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        var configuration = ServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.httpPort = 0
        configuration.rtmpPort = 0
        configuration.rtmpsPort = 0
        configuration.srtPort = 0
        configuration.reconnectGrace = .milliseconds(200)
        configuration.dataDirectory = NSTemporaryDirectory() + "liveloop-bench-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let server = try await LiveloopServer(configuration: configuration, logger: logger)
        let group = server.makeServiceGroup(gracefulShutdownSignals: [])
        let task = Task { try await group.run() }
        let ports = await server.readiness.ports()
        let key = try await server.store.createChannel(name: "bench").streamKey

        let presets = try RenditionPreset.ladder(ladder).get().map(\.name)
        var rows: [Row] = []
        let ladders: [[String]] = [[]] + presets.map { [$0] } + (presets.count > 1 ? [presets] : [])
        for rungs in ladders {
            log("measuring \(rungs.isEmpty ? "the source alone" : rungs.joined(separator: ","))…")
            try await server.video.apply(.init(renditions: rungs), channel: "bench")
            let publisher = Process()
            publisher.executableURL = URL(fileURLWithPath: ffmpeg)
            publisher.arguments = [
                "-hide_banner", "-loglevel", "error", "-re",
                "-f", "lavfi", "-i", "testsrc2=size=\(size):rate=\(rate)", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                "-t", "\(duration + 6)", "-c:v", "libx264", "-preset", "veryfast", "-g", "\(rate)", "-sc_threshold", "0",
                "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-f", "flv", "rtmp://127.0.0.1:\(ports.rtmp)/live/\(key)",
            ]
            publisher.standardInput = FileHandle.nullDevice
            publisher.standardOutput = FileHandle.nullDevice
            publisher.standardError = FileHandle.nullDevice
            try ProcessLaunch.run(publisher)
            try await Task.sleep(for: .seconds(3))
            let transcoder = server.transcoders.pid(channel: "bench")
            if !rungs.isEmpty, transcoder == nil { log("  no transcoder is running: is libx264 in this ffmpeg?") }
            let start = (server: ProcessStats.current(), ffmpeg: transcoder.flatMap { ProcessStats.read(pid: $0) })
            let began = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(Int(duration * 1000)))
            let end = (server: ProcessStats.current(), ffmpeg: transcoder.flatMap { ProcessStats.read(pid: $0) })
            let seconds = Double((ContinuousClock.now - began).components.seconds) + Double((ContinuousClock.now - began).components.attoseconds) / 1e18
            let ffmpegCPU = start.ffmpeg.flatMap { first in end.ffmpeg.map { $0.cpuSeconds - first.cpuSeconds } } ?? 0
            rows.append(Row(renditions: rungs, ffmpegCPUPerSecond: ffmpegCPU / seconds,
                            serverCPUPerSecond: (end.server.cpuSeconds - start.server.cpuSeconds) / seconds))
            publisher.terminate()
            publisher.waitUntilExit()
            // The broadcast ends after the grace period; the next ladder starts a new one.
            while server.registry.broadcast("bench")?.hasEnded == false { try await Task.sleep(for: .milliseconds(100)) }
        }
        await group.triggerGracefulShutdown()
        _ = try? await task.value

        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print("CPU seconds per stream second, source \(size) at \(rate) fps, \(cores) cores, \(Int(duration)) s each")
        print("renditions".padding(toLength: 24, withPad: " ", startingAt: 0) + "ffmpeg   server")
        for row in rows {
            let name = row.renditions.isEmpty ? "(source only)" : row.renditions.joined(separator: ",")
            print(name.padding(toLength: 24, withPad: " ", startingAt: 0)
                  + String(format: "%6.3f   %6.3f", row.ffmpegCPUPerSecond, row.serverCPUPerSecond))
        }
    }
}
