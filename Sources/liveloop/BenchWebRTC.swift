import ArgumentParser
import Foundation
import LiveloopClient

/// `liveloop bench webrtc`: what WHEP viewers cost the server, and how many one node holds without loss. Spawns
/// `liveloop serve`, publishes a stream of `--bitrate` kbit/s to it over RTMP (ffmpeg: a 1280×720 test pattern, 30 fps,
/// no B-frames; `--bitrate 0` takes the demo clip), connects N viewers and measures the server's CPU over a window
/// while they watch. The viewers are this process's own (`--client native`, ``WHEPLoadClient``: they handshake and
/// count packets, and are light enough to load the server rather than themselves), or aiortc peers from one Python
/// process (`--client Tests/python/whep_load.py`, which tops out near a hundred on two cores). Prints a table and,
/// with --json, one object.
struct BenchWebRTC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webrtc",
        abstract: "Measure the server's CPU per WebRTC (WHEP) viewer and how many it holds without loss."
    )

    @Option(help: "WebRTC viewers, comma-separated steps (each step is a fresh run).") var viewers = "10,100,500,1000"
    @Option(help: "Seconds measured per step, after the viewers connected.") var seconds = 10.0
    @Option(help: "The stream's video bitrate in kbit/s, published with ffmpeg; 0 plays the demo clip instead.") var bitrate = 2500
    @Option(help: "The viewers: native (this process) or the path of an aiortc load script (Tests/python/whep_load.py).") var client = "native"
    @Flag(help: "Print one JSON object instead of the table.") var json = false

    struct Step: Encodable {
        var viewers: Int
        var connected: Int
        var framesPerViewerPerSecond: Double
        var packetsReceived: Int
        var packetsLost: Int
        var serverCPUPercent: Double
        var cpuPercentPerViewer: Double
        var rssMiB: Double
        var megabitsPerSecondOut: Double
    }

    func validate() throws {
        guard !steps.isEmpty, steps.allSatisfy({ (1...5_000).contains($0) }) else { throw ValidationError("--viewers: 1–5000 each") }
        guard (2...600).contains(seconds) else { throw ValidationError("--seconds must be 2–600") }
        guard (0...20_000).contains(bitrate) else { throw ValidationError("--bitrate: 0–20000 kbit/s") }
        guard client == "native" || FileManager.default.fileExists(atPath: client) else { throw ValidationError("no load client at \(client)") }
        guard bitrate == 0 || BenchSupport.executable("ffmpeg") != nil else { throw ValidationError("--bitrate needs ffmpeg (or --bitrate 0 for the demo clip)") }
    }

    private var steps: [Int] { viewers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() async throws {
        var results: [Step] = []
        let channel = bitrate == 0 ? "demo" : "bench"
        for count in steps {
            let target = try await LoadTestTarget.prepare(url: nil, dataDirectory: nil, channel: channel, demo: bitrate == 0,
                                                          serveArguments: ["--webrtc-port", "0", "--webrtc-advertise-address", "127.0.0.1",
                                                                           "--webrtc-max-viewers", "\(count)", "--srt-port", "0"])
            defer { target.cleanUp() }
            let publisher = try publish(to: target)
            defer { publisher?.terminate() }
            try await waitForVideo(target, channel: channel)
            let step = try await measure(target, channel: channel, count: count)
            await target.stop()
            results.append(step)
        }
        if json {
            let data = try JSONEncoder().encode(results)
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("viewers  connected  frames/s/viewer  packets     lost  Mbit/s out  server CPU %  CPU %/viewer  RSS MiB")
        for step in results {
            print(String(format: "%7d  %9d  %15.1f  %8d  %7d  %10.1f  %12.1f  %12.3f  %7.1f", step.viewers, step.connected,
                         step.framesPerViewerPerSecond, step.packetsReceived, step.packetsLost, step.megabitsPerSecondOut,
                         step.serverCPUPercent, step.cpuPercentPerViewer, step.rssMiB))
        }
        print("(one machine: the viewers share the CPU with the server; lost counts gaps in the RTP sequence numbers each viewer saw)")
    }

    /// ffmpeg publishing a test pattern at `bitrate` over RTMP, or nil for the demo clip.
    private func publish(to target: LoadTestTarget) throws -> Process? {
        guard bitrate > 0, let key = target.streamKey, let port = target.rtmpPort, let ffmpeg = BenchSupport.executable("ffmpeg") else { return nil }
        let log = NSTemporaryDirectory() + "liveloop-bench-webrtc-ffmpeg-\(UUID().uuidString).log"
        return try BenchSupport.spawn(ffmpeg, [
            "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0", "-g", "60",
            "-b:v", "\(bitrate)k", "-maxrate", "\(bitrate)k", "-bufsize", "\(bitrate)k", "-pix_fmt", "yuv420p",
            "-f", "flv", "rtmp://127.0.0.1:\(port)/live/\(key)",
        ], log: log)
    }

    private func waitForVideo(_ target: LoadTestTarget, channel: String) async throws {
        let port = Int(target.baseURL.split(separator: ":").last ?? "") ?? 0
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let response = try? await HTTPConnection.with(host: "127.0.0.1", port: port, { try await $0.get("/live/\(channel)/media.m3u8") }),
               response.status == 200 { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw ValidationError("the stream never went live: \(BenchSupport.tail(target.serverLog ?? ""))")
    }

    private func measure(_ target: LoadTestTarget, channel: String, count: Int) async throws -> Step {
        let sampler = CostSampler(pid: target.pid)
        let window = Duration.milliseconds(Int64(seconds * 1000))
        var connected = 0, frames = 0.0, packets = 0, lost = 0
        var measured: ServerCost?
        if client == "native" {
            let port = Int(target.baseURL.split(separator: ":").last ?? "") ?? 0
            let (report, cost) = try await WHEPLoadClient.run(
                host: "127.0.0.1", port: port, channel: channel, count: count,
                allowance: .seconds(10) + .milliseconds(Int64(count) * 20), window: window
            ) { start, end in await sampler.measure(from: start, to: end) }
            connected = report.connected
            frames = Double(report.frames) / max(Double(report.connected), 1) / max(report.seconds, 0.001)
            (packets, lost, measured) = (report.packets, report.lost, cost)
        } else {
            // ICE and DTLS take a few seconds for many viewers from one Python process; measure after that.
            let connectAllowance = 3.0 + Double(count) * 0.05
            let start = ContinuousClock.now + .milliseconds(Int64(connectAllowance * 1000))
            async let cost = sampler.measure(from: start, to: start + window)
            let (status, out, err) = try await Self.output("python3", [client, target.baseURL, channel, "\(count)", "\(seconds + connectAllowance - 3)"])
            measured = await cost
            guard status == 0, let line = out.split(separator: "\n").last,
                  let report = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw ValidationError("the load client failed: \(err.suffix(1500))")
            }
            connected = report["connected"] as? Int ?? 0
            frames = report["framesPerViewerPerSecond"] as? Double ?? 0
            packets = report["packetsReceived"] as? Int ?? 0
            lost = report["packetsLost"] as? Int ?? 0
        }
        let cpu = (measured?.cpuPerStreamSecond ?? 0) * 100
        // RTP payloads are at most 1150 bytes; with headers, tags and UDP/IP a packet is about 1200 bytes on the wire.
        let megabits = Double(packets) * 1200 * 8 / 1e6 / seconds
        return Step(viewers: count, connected: connected, framesPerViewerPerSecond: frames, packetsReceived: packets, packetsLost: lost,
                    serverCPUPercent: cpu, cpuPercentPerViewer: connected > 0 ? cpu / Double(connected) : 0,
                    rssMiB: measured?.rssMiB ?? 0, megabitsPerSecondOut: megabits)
    }

    /// Runs a tool to completion on its own thread: (status, stdout, stderr).
    static func output(_ tool: String, _ arguments: [String]) async throws -> (Int32, String, String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: BenchSupport.executable(tool) ?? "/usr/bin/\(tool)")
                process.arguments = arguments
                // stderr to a file: a chatty client must not fill a pipe nobody reads while stdout is read.
                let errPath = NSTemporaryDirectory() + "liveloop-bench-webrtc-\(UUID().uuidString).log"
                _ = FileManager.default.createFile(atPath: errPath, contents: nil)
                defer { try? FileManager.default.removeItem(atPath: errPath) }
                let out = Pipe()
                process.standardOutput = out
                process.standardError = FileHandle(forWritingAtPath: errPath) ?? FileHandle.nullDevice
                process.standardInput = FileHandle.nullDevice
                do { try process.run() } catch {
                    continuation.resume(throwing: error)
                    return
                }
                let stdout = out.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                let stderr = FileManager.default.contents(atPath: errPath) ?? Data()
                continuation.resume(returning: (process.terminationStatus, String(decoding: stdout, as: UTF8.self),
                                                String(decoding: stderr, as: UTF8.self)))
            }
        }
    }
}
