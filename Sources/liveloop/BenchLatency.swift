import ArgumentParser
import Foundation
import LiveMedia
import LiveloopClient
import MediaFormats
import NIOCore
import RTMP
import Storage

/// `liveloop bench latency`: glass-to-glass latency without the glass. A publisher pushes the bundled clip over RTMP at
/// real-time pace and notes when each video frame's bytes left for the socket; LL-HLS readers (blocking playlist reload
/// plus the streamed preload-hinted part) note when each frame's `moof`+`mdat` has fully arrived. The same input goes
/// through nginx with libnginx-mod-rtmp (plain HLS, 1 s fragments) for comparison.
struct BenchLatency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency",
        abstract: "Per-frame latency from an RTMP publisher to LL-HLS readers, next to nginx-rtmp's HLS.",
        discussion: """
        Liveloop runs as a child process ('liveloop serve' on free loopback ports with a temporary data directory), so \
        its CPU time and RSS are its own; the publisher and the readers run in this process. nginx (Debian's nginx and \
        libnginx-mod-rtmp, plain HLS with 1 s fragments) gets the same input and as many polling HLS readers; it is \
        skipped with a message when it is not installed. The first 2 s after the readers join are warm-up and not counted.
        """
    )

    static let warmUp = Duration.seconds(2)

    @Option(help: "Seconds measured (after the warm-up).")
    var duration = 20.0
    @Option(help: "Readers measured at once on each server (try 100 for the CPU/RSS figure).")
    var readers = 1
    @Option(help: "LL-HLS part target in seconds given to the server.")
    var partTarget = 0.2
    @Flag(help: "Measure Liveloop only.")
    var skipNginx = false
    @Flag(help: "Also run a second node on the same database that relays the broadcast from the first (docs/cluster.md), with as many readers: its per-frame latency beside the origin's, and the difference the relay adds.")
    var relay = false
    @Flag(help: "Print JSON instead of the table.")
    var json = false
    @Flag(help: ArgumentHelp("Measure nginx-rtmp only (to debug the comparison).", visibility: .hidden))
    var skipLiveloop = false

    func validate() throws {
        guard duration >= 1, duration <= 3600 else { throw ValidationError("--duration must be 1–3600 seconds") }
        guard readers >= 1, readers <= 2000 else { throw ValidationError("--readers must be 1–2000") }
        guard partTarget >= 0.05, partTarget <= 2 else { throw ValidationError("--part-target must be 0.05–2 seconds") }
    }

    func run() async throws {
        let clip = try BenchClip(DemoSource())
        let window = Duration.milliseconds(Int64(duration * 1000))
        let log: (String) -> Void = json ? { _ in } : { message in FileHandle.standardError.write(Data((message + "\n").utf8)) }

        var liveloop: TargetResult?
        if !skipLiveloop {
            log("liveloop: starting 'liveloop serve' on loopback…")
            liveloop = try await LiveloopRun.measure(clip: clip, window: window, readers: readers, partTarget: partTarget, relay: relay, log: log)
        }

        var nginx: TargetResult?
        var nginxNote: String?
        if skipNginx {
            nginxNote = "skipped (--skip-nginx)"
        } else {
            switch NginxRTMP.locate() {
            case let .failure(reason):
                nginxNote = "skipped: \(reason)"
            case let .success(installation):
                log("nginx-rtmp: starting nginx with \(installation.module)…")
                do {
                    nginx = try await NginxRTMP.measure(installation: installation, clip: clip, window: window, readers: readers, log: log)
                } catch {
                    nginxNote = "failed: \(error)"
                }
            }
        }

        let report = Report(
            durationSeconds: duration, readers: readers, partTarget: partTarget, clip: clip.description,
            liveloop: liveloop, nginx: nginx, nginxNote: nginxNote
        )
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.table)
        }
    }
}

/// What one server did in the measured window.
struct TargetResult: Encodable {
    var latency: LatencySummary
    var server: ServerCost?
    /// The bench process (publisher and readers), for context: it shares the machine with the server.
    var benchProcess: ServerCost?
    var readerErrors: [String] = []
    /// With `--relay`: the same frames read from a second node that relays the broadcast.
    var relayed: LatencySummary? = nil
}

struct Report: Encodable {
    var durationSeconds: Double
    var readers: Int
    var partTarget: Double
    var clip: String
    var liveloop: TargetResult?
    var nginx: TargetResult?
    var nginxNote: String?

    var table: String {
        func ms(_ value: Double) -> String {
            if value.isNaN { return "—" }
            return value < 10 ? String(format: "%.1f ms", value) : "\(Int(value.rounded())) ms"
        }
        func row(_ name: String, _ s: LatencySummary) -> String {
            name.padding(toLength: 17, withPad: " ", startingAt: 0)
                + [ms(s.p50), ms(s.p95), ms(s.p99), ms(s.max)].map { $0.leftPadded(9) }.joined()
                + "\(s.frames)".leftPadded(8) + "\(s.lost)".leftPadded(6)
        }
        func cost(_ c: ServerCost?) -> String {
            guard let c else { return "not measured" }
            return String(format: "%.4f s CPU per stream-second, RSS %.0f MiB (peak %.0f MiB)", c.cpuPerStreamSecond, c.rssMiB, c.peakRSSMiB)
        }
        let readerWord = readers == 1 ? "1 reader" : "\(readers) readers"
        var lines = [
            "liveloop bench latency — \(Int(durationSeconds)) s of \(clip), loopback, \(readerWord), part target \(partTarget) s",
            "".padding(toLength: 17, withPad: " ", startingAt: 0) + ["p50", "p95", "p99", "max"].map { $0.leftPadded(9) }.joined()
                + "frames".leftPadded(8) + "lost".leftPadded(6),
        ]
        if let liveloop { lines.append(row("liveloop LL-HLS", liveloop.latency)) }
        if let relayed = liveloop?.relayed, let liveloop {
            lines.append(row("  via relay node", relayed))
            lines.append("  the relay adds " + ["p50": relayed.p50 - liveloop.latency.p50, "p99": relayed.p99 - liveloop.latency.p99]
                .sorted { $0.key < $1.key }.map { "\($0.key) \(ms($0.value))" }.joined(separator: ", "))
        }
        if let nginx { lines.append(row("nginx-rtmp HLS", nginx.latency)) }
        if let nginx, let liveloop, liveloop.latency.p50 > 0 {
            lines.append(String(format: "ratio (nginx/liveloop p50): %.1fx", nginx.latency.p50 / liveloop.latency.p50))
        }
        if let nginxNote { lines.append("nginx-rtmp: \(nginxNote)") }
        lines.append("server CPU/RSS (1 publisher, \(readerWord); each server in its own process, readers in the bench process):")
        if let liveloop { lines.append("  liveloop:   \(cost(liveloop.server))") }
        if let nginx { lines.append("  nginx-rtmp: \(cost(nginx.server)) (writes .ts files; plain HTTP file serving)") }
        if let bench = liveloop?.benchProcess {
            lines.append(String(format: "  bench process (publisher + readers) during the liveloop run: %.4f s CPU per second", bench.cpuPerStreamSecond))
        }
        if let bench = nginx?.benchProcess {
            lines.append(String(format: "  bench process (publisher + readers) during the nginx run:    %.4f s CPU per second", bench.cpuPerStreamSecond))
        }
        if readers > 1 { lines.append("frames = frames written in the window × readers; latency percentiles pool every reader's frames") }
        for error in (liveloop?.readerErrors ?? []).prefix(3) { lines.append("liveloop reader error: \(error)") }
        for error in (nginx?.readerErrors ?? []).prefix(3) { lines.append("nginx reader error: \(error)") }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? " " + self : String(repeating: " ", count: width - count) + self
    }
}

/// The bundled clip as RTMP events: metadata and codec configuration once, then frames looped with continuing
/// timestamps.
struct BenchClip: Sendable {
    var header: [RTMPMediaEvent] = []
    var frames: [MediaFrame] = []
    /// 90 kHz.
    var loopDuration: Int64
    /// Decode time of the first video frame (a keyframe), the zero of both servers' timelines.
    var firstVideoDTS: Int64
    var description = "H.264+AAC"

    init(_ source: DemoSource) throws {
        loopDuration = source.loopDuration
        var width = 0, height = 0, frameRate = 0.0
        for (_, event) in source.events {
            switch event {
            case let .videoConfiguration(record):
                header.append(.codec(.avc(record)))
                if let sps = try? AVCDecoderConfiguration(record: record).parsedSPS() {
                    width = sps.width
                    height = sps.height
                }
            case let .audioConfiguration(config):
                header.append(.codec(.aac(config)))
            case let .frame(frame):
                frames.append(frame)
            case .metadata:
                break
            }
        }
        let video = frames.filter { $0.track == .video }
        guard let first = video.first(where: \.isKeyframe) else { throw ValidationError("the bundled clip has no keyframe") }
        firstVideoDTS = first.dts
        if video.count > 1 { frameRate = Double(video.count) * 90_000 / Double(loopDuration) }
        header.insert(.metadata([
            ("width", .number(Double(width))), ("height", .number(Double(height))), ("framerate", .number(frameRate.rounded())),
            ("videocodecid", .number(7)), ("audiocodecid", .number(10)), ("encoder", .string("liveloop bench")),
        ]), at: 0)
        if width > 0 { description = "\(width)x\(height)@\(Int(frameRate.rounded())) H.264+AAC" }
    }
}

/// A video frame as the publisher wrote it: decode time relative to the first keyframe, and when its write completed.
struct WrittenFrame: Sendable {
    var dts: Int64
    var writtenAt: ContinuousClock.Instant
}

/// Publishes the clip in a loop at real-time pace until the task is cancelled; returns every video frame written.
enum PacedPublisher {
    static func run(_ clip: BenchClip, publisher: RTMPPublisher) async throws -> [WrittenFrame] {
        var written: [WrittenFrame] = []
        written.reserveCapacity(4096)
        for event in clip.header { try await publisher.send(event) }
        let start = ContinuousClock.now
        let origin = clip.frames.first?.dts ?? 0
        var loop: Int64 = 0
        while !Task.isCancelled {
            let offset = loop * clip.loopDuration
            for var frame in clip.frames {
                let due = start + .microseconds((offset + frame.dts - origin) * 1_000_000 / 90_000)
                if due > .now {
                    do {
                        try await Task.sleep(until: due, clock: .continuous)
                    } catch {
                        return written
                    }
                }
                frame.dts += offset
                frame.pts += offset
                let at = try await publisher.send(.frame(frame))
                if frame.track == .video { written.append(WrittenFrame(dts: frame.dts - clip.firstVideoDTS, writtenAt: at)) }
            }
            loop += 1
        }
        return written
    }
}

/// Matches what each reader saw against what was written in the window.
enum LatencyMatcher {
    static func summarize(written: [WrittenFrame], window: ClosedRange<ContinuousClock.Instant>, arrivals: [[(dts: Int64, at: ContinuousClock.Instant)]]) -> LatencySummary {
        let measured = written.filter { window.contains($0.writtenAt) }
        var latencies: [Double] = []
        latencies.reserveCapacity(measured.count * arrivals.count)
        for reader in arrivals {
            var first: [Int64: ContinuousClock.Instant] = [:]
            for arrival in reader where first[arrival.dts] == nil { first[arrival.dts] = arrival.at }
            for frame in measured {
                if let at = first[frame.dts] { latencies.append((at - frame.writtenAt).milliseconds) }
            }
        }
        return LatencySummary(latencies: latencies, expected: measured.count * arrivals.count)
    }
}

/// Liveloop as a child process: `liveloop serve` on free ports with a temporary data directory and one channel.
enum LiveloopRun {
    static let channel = "bench"

    static func measure(clip: BenchClip, window: Duration, readers: Int, partTarget: Double, relay: Bool = false,
                        log: @escaping (String) -> Void) async throws -> TargetResult {
        let directory = NSTemporaryDirectory() + "liveloop-bench-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = try SQLiteStore(directory: directory).createChannel(name: channel).streamKey

        let httpPort = try await BenchSupport.freePort()
        let rtmpPort = try await BenchSupport.freePort()
        // A port of its own for SRT too: on a shared machine another process's SRT callers may use the default one.
        let srtPort = try await BenchSupport.freePort()
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let logFile = directory + "/server.log"
        let server = try BenchSupport.spawn(executable, [
            "serve", "--host", "127.0.0.1", "--http-port", "\(httpPort)", "--rtmp-port", "\(rtmpPort)", "--srt-port", "\(srtPort)", "--data", directory,
            "--part-target", "\(partTarget)", "--log-level", "warning",
        ] + (relay ? ["--node-id", "bench-origin"] : []), log: logFile)
        // The second node: the same database (SQLite in the same directory, shared by both processes), its own ports.
        var relayNode: (process: Process, httpPort: Int)?
        if relay {
            let port = try await BenchSupport.freePort()
            let process = try BenchSupport.spawn(executable, [
                "serve", "--host", "127.0.0.1", "--http-port", "\(port)", "--rtmp-port", "\(try await BenchSupport.freePort())",
                "--srt-port", "\(try await BenchSupport.freePort())", "--webrtc-port", "0", "--data", directory,
                "--part-target", "\(partTarget)", "--log-level", "warning", "--node-id", "bench-relay",
            ], log: directory + "/relay.log")
            relayNode = (process, port)
        }
        do {
            var result = try await run(clip: clip, window: window, readers: readers, key: key, httpPort: httpPort, rtmpPort: rtmpPort,
                                       server: server, relayPort: relayNode?.httpPort, log: log)
            await BenchSupport.stop(server)
            if let relayNode { await BenchSupport.stop(relayNode.process) }
            if relay, result.relayed == nil { result.readerErrors.append("the relay node served nothing: \(BenchSupport.tail(directory + "/relay.log"))") }
            return result
        } catch {
            await BenchSupport.stop(server)
            if let relayNode { await BenchSupport.stop(relayNode.process) }
            let tail = BenchSupport.tail(logFile)
            throw ValidationError("liveloop run failed: \(error)" + (tail.isEmpty ? "" : "\nserver log:\n\(tail)"))
        }
    }

    private static func run(clip: BenchClip, window: Duration, readers: Int, key: String, httpPort: Int, rtmpPort: Int, server: Process,
                            relayPort: Int? = nil, log: @escaping (String) -> Void) async throws -> TargetResult {
        let pid = server.processIdentifier
        guard await waitFor(timeout: .seconds(30), {
            guard server.isRunning else { return true }
            return (try? await get(httpPort, "/healthz"))?.status == 200
        }),
              server.isRunning
        else {
            throw ValidationError(server.isRunning ? "the server did not become healthy within 30 s" : "the server exited (status \(server.terminationStatus))")
        }
        let publisher = try await RTMPPublisher.connect(host: "127.0.0.1", port: rtmpPort, app: "live", streamKey: key)
        let publishing = Task { try await PacedPublisher.run(clip, publisher: publisher) }
        defer { publishing.cancel() }
        let playlist = "/live/\(channel)/media.m3u8"
        guard await waitFor(timeout: .seconds(10), { (try? await get(httpPort, playlist))?.status == 200 }) else {
            throw ValidationError("no playlist within 10 s of publishing")
        }
        // The relay node starts relaying on its first request for the channel.
        if let relayPort, !(await waitFor(timeout: .seconds(30), { (try? await get(relayPort, playlist))?.status == 200 })) {
            throw ValidationError("the relay node served no playlist within 30 s")
        }

        let joined = ContinuousClock.now
        let start = joined + BenchLatency.warmUp
        let end = start + window
        // Frames written up to the window's end get a second to arrive.
        let stop = end + .seconds(1)
        log("liveloop: \(readers) reader(s) joined; measuring \(window) after \(BenchLatency.warmUp) warm-up…")
        let serverCost = Task { await CostSampler(pid: pid).measure(from: start, to: end) }
        let benchCost = Task { await CostSampler(pid: nil).measure(from: start, to: end) }
        typealias Arrivals = Result<[(dts: Int64, at: ContinuousClock.Instant)], any Error>
        let ports = [httpPort] + (relayPort.map { [$0] } ?? [])
        let everything = await withTaskGroup(of: (Int, Arrivals).self) { group in
            for port in ports {
                for _ in 0..<readers {
                    group.addTask {
                        do {
                            let result = try await LLHLSReader(host: "127.0.0.1", port: port, basePath: "/live/\(channel)").follow(until: stop)
                            return (port, .success(result.frames.map { ($0.dts, $0.arrivedAt) }))
                        } catch {
                            return (port, .failure(error))
                        }
                    }
                }
            }
            var all: [(Int, Arrivals)] = []
            for await result in group { all.append(result) }
            return all
        }
        let results = everything.filter { $0.0 == httpPort }.map(\.1)
        let relayedResults = everything.filter { $0.0 != httpPort }.map(\.1)
        publishing.cancel()
        let written = try await publishing.value
        await publisher.close()

        var arrivals: [[(dts: Int64, at: ContinuousClock.Instant)]] = []
        var errors: [String] = []
        for result in results {
            switch result {
            case let .success(frames): arrivals.append(frames)
            case let .failure(error): arrivals.append([]); errors.append("\(error)")
            }
        }
        var relayedArrivals: [[(dts: Int64, at: ContinuousClock.Instant)]] = []
        for result in relayedResults {
            switch result {
            case let .success(frames): relayedArrivals.append(frames)
            case let .failure(error): relayedArrivals.append([]); errors.append("relay node: \(error)")
            }
        }
        return TargetResult(
            latency: LatencyMatcher.summarize(written: written, window: start...end, arrivals: arrivals),
            server: await serverCost.value, benchProcess: await benchCost.value, readerErrors: errors,
            relayed: relayPort == nil ? nil : LatencyMatcher.summarize(written: written, window: start...end, arrivals: relayedArrivals)
        )
    }

    static func get(_ port: Int, _ path: String) async throws -> HTTPConnection.Response {
        try await HTTPConnection.with(host: "127.0.0.1", port: port) { try await $0.get(path) }
    }

    static func waitFor(timeout: Duration, _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}
