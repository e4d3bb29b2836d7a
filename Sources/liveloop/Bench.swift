import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that print a table to paste into a note.",
        subcommands: [BenchLatency.self, BenchSync.self, BenchRenditions.self, BenchWebRTC.self]
    )
}

/// Latency of every frame one client saw, summarised as a person reads it: percentiles, the worst, and what never came.
struct LatencySummary: Encodable {
    var min: Double
    var p50: Double
    var p95: Double
    var p99: Double
    var max: Double
    /// Frame deliveries expected: frames written in the measured window × readers.
    var frames: Int
    /// Expected deliveries that never arrived before the readers stopped.
    var lost: Int

    /// Milliseconds, nearest-rank percentiles.
    init(latencies: [Double], expected: Int) {
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank - 1))]
        }
        min = sorted.first ?? .nan
        p50 = percentile(50)
        p95 = percentile(95)
        p99 = percentile(99)
        max = sorted.last ?? .nan
        frames = expected
        lost = expected - latencies.count
    }
}

/// CPU time and memory of another process, from `/proc` (Linux).
struct ProcessStats: Sendable {
    /// User + system CPU time.
    var cpuSeconds: Double
    /// Resident set size, bytes.
    var residentBytes: Int

    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// Reads `/proc/PID/stat` (utime, stime) and `/proc/PID/status` (VmRSS); nil when the process is gone.
    static func read(pid: Int32) -> ProcessStats? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)" come fields 3…: utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        var rss = 0
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            rss = (Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") ?? 0) * 1024
        }
        return ProcessStats(cpuSeconds: (utime + stime) / ticksPerSecond, residentBytes: rss)
    }

    /// This process, from getrusage (CPU) and `/proc/self/status` (RSS).
    static func current() -> ProcessStats {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return ProcessStats(cpuSeconds: cpu, residentBytes: read(pid: getpid())?.residentBytes ?? 0)
    }
}

/// A server process's cost over the measured window.
struct ServerCost: Encodable {
    /// CPU seconds the process used per second of published stream.
    var cpuPerStreamSecond: Double
    /// Resident memory at the end of the window, and the most seen while sampling, MiB.
    var rssMiB: Double
    var peakRSSMiB: Double
}

/// Samples a process's CPU and RSS across a window; the RSS peak is tracked every 250 ms.
actor CostSampler {
    private let pid: Int32?
    private var first: ProcessStats?
    private var last: ProcessStats?
    private var peakRSS = 0

    /// `pid` nil samples this process.
    init(pid: Int32?) { self.pid = pid }

    private func sample() -> ProcessStats? {
        guard let pid else { return ProcessStats.current() }
        return ProcessStats.read(pid: pid)
    }

    /// Samples at `start`, every 250 ms, and at `end`; returns the cost per second of the window.
    func measure(from start: ContinuousClock.Instant, to end: ContinuousClock.Instant) async -> ServerCost? {
        try? await Task.sleep(until: start, clock: .continuous)
        first = sample()
        while ContinuousClock.now < end {
            try? await Task.sleep(until: min(end, ContinuousClock.now + .milliseconds(250)), clock: .continuous)
            if let stats = sample() { peakRSS = max(peakRSS, stats.residentBytes); last = stats }
        }
        guard let first, let last else { return nil }
        let seconds = Double((end - start).components.seconds) + Double((end - start).components.attoseconds) / 1e18
        return ServerCost(
            cpuPerStreamSecond: (last.cpuSeconds - first.cpuSeconds) / max(seconds, 0.001),
            rssMiB: Double(last.residentBytes) / 1_048_576, peakRSSMiB: Double(max(peakRSS, first.residentBytes)) / 1_048_576
        )
    }
}

enum BenchSupport {
    /// A TCP port nobody listens on right now (bound and released; another process could take it in between, which
    /// on a benchmark machine does not happen in practice).
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }

    /// The first executable called `name` on PATH or in the system directories.
    static func executable(_ name: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Starts `executable` with stdout discarded and stderr appended to `log`.
    static func spawn(_ executable: String, _ arguments: [String], log: String) throws -> Process {
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: log) ?? FileHandle.nullDevice
        try process.run()
        return process
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    static func stop(_ process: Process, grace: Duration = .seconds(5)) async {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + grace
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// The last lines of a log file, to explain a failure.
    static func tail(_ path: String, lines: Int = 8) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "" }
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}

extension Duration {
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
