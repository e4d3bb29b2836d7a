import Foundation
import LiveloopServer

/// Runs real command-line tools (ffmpeg, ffprobe) for the tests.
enum Tools {
    static func path(_ name: String) -> String? {
        if name.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static var haveFFmpeg: Bool { path("ffmpeg") != nil && path("ffprobe") != nil }

    /// Starts ffmpeg publishing a generated H.264 High (B-frames) + AAC stream over RTMP at real-time pace.
    static func publish(to url: String, frames: Int, size: String = "640x360", rate: Int = 30, gop: Int = 30, tone: Int = 440,
                        preset: String = "veryfast", bFrames: Int = 2) throws -> Process {
        try run("ffmpeg", [
            "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=\(size):rate=\(rate)",
            "-f", "lavfi", "-i", "sine=frequency=\(tone):sample_rate=48000",
            "-frames:v", "\(frames)", "-shortest",
            "-c:v", "libx264", "-preset", preset, "-profile:v", "high", "-bf", "\(bFrames)", "-g", "\(gop)", "-keyint_min", "\(gop)",
            "-sc_threshold", "0", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "64k", "-f", "flv", url,
        ])
    }

    static func run(_ tool: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path(tool) ?? "/usr/bin/\(tool)")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try ProcessLaunch.run(process)
        return process
    }

    /// Runs a tool to completion on a thread of its own and returns (status, stdout, stderr). Waiting for a process
    /// blocks; doing it on the two threads of the cooperative pool would stall every other test on this 2-core machine.
    static func output(_ tool: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String, String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    continuation.resume(returning: try blockingOutput(tool, arguments, environment: environment))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Runs a tool to completion, blocking the calling thread.
    static func blockingOutput(_ tool: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path(tool) ?? "/usr/bin/\(tool)")
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try ProcessLaunch.run(process)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    static func waitForExit(_ process: Process, timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { process.terminate(); return nil }
        return process.terminationStatus
    }

    /// What ffprobe reads from a file: decoded frame counts per stream, errors, and video frame timestamps.
    struct Probe {
        var videoFrames = 0
        var audioFrames = 0
        var videoPTS: [Double] = []
        var errors: String = ""
        var width = 0
        var height = 0
    }

    static func probe(_ file: String) async throws -> Probe {
        var probe = Probe()
        let (_, streams, errors) = try await output("ffprobe", [
            "-v", "error", "-count_frames", "-show_entries", "stream=codec_type,nb_read_frames,width,height", "-of", "csv=p=0", file,
        ])
        probe.errors = errors
        for line in streams.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: ",").map(String.init)
            if fields.first == "video" {
                probe.width = Int(fields[safe: 1] ?? "") ?? 0
                probe.height = Int(fields[safe: 2] ?? "") ?? 0
                probe.videoFrames = Int(fields.last ?? "") ?? 0
            } else if fields.first == "audio" {
                probe.audioFrames = Int(fields.last ?? "") ?? 0
            }
        }
        let (_, frames, frameErrors) = try await output("ffprobe", [
            "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "csv=p=0", file,
        ])
        probe.errors += frameErrors
        probe.videoPTS = frames.split(whereSeparator: \.isNewline).compactMap { Double($0.split(separator: ",").first ?? "") }
        return probe
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
