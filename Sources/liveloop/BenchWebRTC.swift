import ArgumentParser
import Foundation

/// `liveloop bench webrtc`: what WHEP viewers cost the server. Spawns `liveloop serve --demo`, connects N aiortc
/// viewers from one Python process (Tests/python/whep_load.py: they receive and reassemble frames, and do not
/// decode), and measures the server's CPU over a window while they watch. Prints a table and, with --json, one object.
struct BenchWebRTC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webrtc",
        abstract: "Measure the server's CPU per WebRTC (WHEP) viewer and how many it holds without loss (needs python3 aiortc)."
    )

    @Option(help: "WebRTC viewers, comma-separated steps (each step is a fresh run).") var viewers = "1,10,50"
    @Option(help: "Seconds measured per step, after the viewers connected.") var seconds = 10.0
    @Option(help: "The load client (an aiortc script).") var client = "Tests/python/whep_load.py"
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
    }

    func validate() throws {
        guard !steps.isEmpty, steps.allSatisfy({ (1...5_000).contains($0) }) else { throw ValidationError("--viewers: 1–5000 each") }
        guard (2...600).contains(seconds) else { throw ValidationError("--seconds must be 2–600") }
        guard FileManager.default.fileExists(atPath: client) else { throw ValidationError("no load client at \(client)") }
    }

    private var steps: [Int] { viewers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() async throws {
        var results: [Step] = []
        for count in steps {
            let target = try await LoadTestTarget.prepare(url: nil, dataDirectory: nil, channel: "demo", demo: true,
                                                          serveArguments: ["--webrtc-port", "0", "--webrtc-advertise-address", "127.0.0.1",
                                                                           "--webrtc-max-viewers", "\(count)", "--srt-port", "0"])
            defer { target.cleanUp() }
            // ICE and DTLS take a few seconds for many viewers from one Python process; measure after that.
            let connectAllowance = 3.0 + Double(count) * 0.05
            let sampler = CostSampler(pid: target.pid)
            let start = ContinuousClock.now + .milliseconds(Int64(connectAllowance * 1000))
            async let cost = sampler.measure(from: start, to: start + .milliseconds(Int64(seconds * 1000)))
            let (status, out, err) = try await Self.output("python3", [client, target.baseURL, "demo", "\(count)", "\(seconds + connectAllowance - 3)"])
            let measured = await cost
            await target.stop()
            guard status == 0, let line = out.split(separator: "\n").last,
                  let report = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw ValidationError("the load client failed: \(err.suffix(1500))")
            }
            let connected = report["connected"] as? Int ?? 0
            let cpu = (measured?.cpuPerStreamSecond ?? 0) * 100
            results.append(Step(viewers: count, connected: connected,
                                framesPerViewerPerSecond: report["framesPerViewerPerSecond"] as? Double ?? 0,
                                packetsReceived: report["packetsReceived"] as? Int ?? 0, packetsLost: report["packetsLost"] as? Int ?? 0,
                                serverCPUPercent: cpu, cpuPercentPerViewer: connected > 0 ? cpu / Double(connected) : 0,
                                rssMiB: measured?.rssMiB ?? 0))
        }
        if json {
            let data = try JSONEncoder().encode(results)
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("viewers  connected  frames/s/viewer  packets   lost  server CPU %  CPU %/viewer  RSS MiB")
        for step in results {
            print(String(format: "%7d  %9d  %15.1f  %7d  %5d  %12.1f  %12.3f  %7.1f", step.viewers, step.connected,
                         step.framesPerViewerPerSecond, step.packetsReceived, step.packetsLost, step.serverCPUPercent,
                         step.cpuPercentPerViewer, step.rssMiB))
        }
        print("(one machine: the aiortc client shares the CPU with the server; loss counts what RTCP receiver statistics report)")
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
