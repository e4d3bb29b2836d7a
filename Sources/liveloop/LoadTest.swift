import ArgumentParser
import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import Storage
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `liveloop loadtest`: N viewers on one channel's interaction socket, a poll, and every viewer voting inside one
/// window — the burst a live quiz produces (60–85 % of an audience answering in the same second). Built on
/// `LiveloopClient.InteractionClient`; prints a table to paste into a note.
struct LoadTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Open N viewer WebSockets, launch a poll, have every viewer vote inside one window, and report the figures.",
        discussion: """
        Without --url it starts 'liveloop serve' as a child process (this executable, a temporary --data directory)
        so that the server's memory can be read from /proc. With --url it drives a running server; pass that server's
        --data directory too, since the load test mints its tokens with the server's secret.
        Client sockets are bound to 127.0.0.1…127.0.0.K (--sources) because one source address has only ~28,000
        ephemeral ports towards one server port. Both processes get the open-file limit raised to its hard limit,
        which caps N on a given machine (each viewer costs one descriptor on each side).
        """
    )

    @Option(help: "Viewer connections to open.") var viewers = 10_000
    @Option(help: "A running server (http://HOST:PORT); default: spawn one.") var url: String?
    @Option(name: .customLong("data"), help: "Data directory of the server given with --url.") var dataDirectory: String?
    @Option(help: "Source addresses 127.0.0.1…127.0.0.K for the client sockets (default: one per 20,000 viewers).")
    var sources: Int?
    @Option(help: "Seconds over which the votes are spread, uniformly.") var window = 1.0
    @Option(help: "Channel to use.") var channel = "loadtest"
    @Option(help: "WebSocket handshakes in flight while connecting.") var concurrency = 200
    @Option(help: "Options of the poll.") var options = 4
    @Option(help: "Server processes to spawn on one database (a cluster, docs/cluster.md): the host on the first, the viewers round-robin over all.")
    var nodes = 1

    func validate() throws {
        guard (1...1_000_000).contains(viewers) else { throw ValidationError("--viewers must be 1–1,000,000") }
        guard window > 0, window <= 600 else { throw ValidationError("--window must be 0–600 seconds") }
        if let sources { guard (1...254).contains(sources) else { throw ValidationError("--sources must be 1–254") } }
        guard (1...10_000).contains(concurrency) else { throw ValidationError("--concurrency must be 1–10,000") }
        guard (2...10).contains(options) else { throw ValidationError("--options must be 2–10") }
        if url != nil, dataDirectory == nil { throw ValidationError("--url needs --data (the server's data directory, for its token secret)") }
        guard (1...64).contains(nodes) else { throw ValidationError("--nodes must be 1–64") }
        if nodes > 1, url != nil { throw ValidationError("--nodes spawns its servers; it cannot be used with --url") }
    }

    func run() async throws {
        let fileLimit = LoadTestSupport.raiseFileLimit()
        let sourceCount = sources ?? max(1, (viewers + 19_999) / 20_000)
        LoadTestSupport.log("open-file limit \(fileLimit) (client and server); \(viewers) viewers from \(sourceCount) source address(es)")
        // At the open-file limit Swift's runtime traps (libdispatch's worker-pool monitor cannot open /proc), so
        // never go near it, in the client or in the server that inherits the limit.
        let reserve = LoadTestSupport.descriptorReserve
        // Each server holds its share of the viewers; this process holds them all.
        guard viewers + reserve <= fileLimit, (viewers + nodes - 1) / nodes + reserve <= fileLimit else {
            throw LoadTestFailure(
                "\(viewers) viewers need about \(viewers + reserve) open files in this process and in the server; the limit "
                    + "here is \(fileLimit) (a higher hard limit needs 'ulimit -Hn' or CAP_SYS_RESOURCE), so the most this "
                    + "machine runs is --viewers \(fileLimit - reserve)")
        }

        let target = try await LoadTestTarget.prepare(url: url, dataDirectory: dataDirectory, channel: channel,
                                                      serveArguments: nodes > 1 ? ["--node-id", "loadtest-node-1", "--srt-port", "0", "--webrtc-port", "0"] : [])
        defer { target.cleanUp() }
        var others: [LoadTestTarget] = []
        func stopAll() async {
            for other in others { await other.stop() }
            await target.stop()
        }
        do {
            // The other nodes share the first one's data directory (its SQLite database).
            for index in stride(from: 2, through: nodes, by: 1) {
                var other = try await LoadTestTarget.prepare(url: nil, dataDirectory: target.temporaryDirectory, channel: channel,
                                                             serveArguments: ["--node-id", "loadtest-node-\(index)", "--srt-port", "0", "--webrtc-port", "0"])
                other.temporaryDirectory = nil
                others.append(other)
            }
            let report = try await LoadTestRun(
                target: target, others: others, viewers: viewers, sources: sourceCount, window: window, concurrency: concurrency,
                optionCount: options
            ).run()
            print(report.table(fileLimit: fileLimit))
            await stopAll()
            if !report.exact { throw ExitCode(2) }
        } catch {
            await stopAll()
            throw error
        }
    }
}

/// The server under test: spawned here, or one already running.
struct LoadTestTarget: Sendable {
    var baseURL: String
    var channel: String
    var secret: Data
    /// The spawned server (nil with --url).
    var process: Process?
    var temporaryDirectory: String?
    var serverLog: String?
    /// The spawned server's RTMP port, and the channel's stream key when this run created the channel.
    var rtmpPort: Int?
    var streamKey: String?

    var pid: Int32? { process?.processIdentifier }

    static func prepare(url: String?, dataDirectory: String?, channel: String, demo: Bool = false,
                        serveArguments: [String] = []) async throws -> LoadTestTarget {
        let directory = dataDirectory ?? (NSTemporaryDirectory() + "liveloop-loadtest-" + UUID().uuidString)
        let secret: Data
        var streamKey: String?
        do {
            let store = try SQLiteStore(directory: directory)
            if try store.channel(named: channel) == nil { streamKey = try store.createChannel(name: channel).streamKey }
            secret = try store.secret(named: LiveloopServer.tokenSecretName)
        }
        if let url {
            return LoadTestTarget(baseURL: url, channel: channel, secret: secret)
        }
        let httpPort = try await BenchSupport.freePort()
        let rtmpPort = try await BenchSupport.freePort()
        let log = directory + "/server-\(httpPort).log"
        let executable = Bundle.main.executablePath ?? CommandLine.arguments[0]
        let process = try BenchSupport.spawn(executable, [
            "serve", "--host", "127.0.0.1", "--http-port", "\(httpPort)", "--rtmp-port", "\(rtmpPort)",
            "--data", directory, "--log-level", "warning",
            // The viewers come from a few loopback addresses, as they would through a load balancer.
            "--max-connections-per-address", "0",
        ] + (demo ? ["--demo"] : []) + serveArguments, log: log)
        let target = LoadTestTarget(baseURL: "http://127.0.0.1:\(httpPort)", channel: channel, secret: secret, process: process,
                                    temporaryDirectory: directory, serverLog: log, rtmpPort: rtmpPort, streamKey: streamKey)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let response = try? await HTTPConnection.with(host: "127.0.0.1", port: httpPort, { try await $0.get("/healthz") }),
               response.status == 200 {
                LoadTestSupport.log("spawned server pid \(process.processIdentifier) on \(target.baseURL)")
                return target
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        await target.stop()
        target.cleanUp()
        throw LoadTestFailure("the server did not start: \(BenchSupport.tail(log))")
    }

    func stop() async {
        if let process { await BenchSupport.stop(process) }
    }

    func cleanUp() {
        if let temporaryDirectory { try? FileManager.default.removeItem(atPath: temporaryDirectory) }
    }
}

/// One load test: connect, launch, vote, measure.
struct LoadTestRun {
    let target: LoadTestTarget
    /// The other nodes of a cluster run (the host is on `target`, the viewers round-robin over all).
    var others: [LoadTestTarget] = []
    let viewers: Int
    let sources: Int
    let window: Double
    let concurrency: Int
    let optionCount: Int

    /// What each viewer saw and did, by viewer index.
    final class Observations: Sendable {
        let pollReceived: Mutex<[ContinuousClock.Instant?]>
        let pollCount = Atomic<Int>(0)
        /// Host tallies of the poll: arrival and ballots.
        let tallies = Mutex<[(at: ContinuousClock.Instant, ballots: Int, counts: [Int])]>([])

        init(viewers: Int) {
            pollReceived = Mutex(Array(repeating: nil, count: viewers))
        }
    }

    struct Vote: Sendable {
        var sentAt: ContinuousClock.Instant
        var answeredAt: ContinuousClock.Instant
        var choice: Int
        var outcome: Outcome
        enum Outcome: Sendable, Hashable { case accepted, refused(ErrorCode), lost }
    }

    func run() async throws -> LoadTestReport {
        let tokens = await TokenAuthority(secret: target.secret)
        let socketURL = InteractionClient.url(server: target.baseURL, channel: target.channel)
        let nodeURLs = ([target] + others).map { InteractionClient.url(server: $0.baseURL, channel: target.channel) }
        let pids = ([target] + others).compactMap(\.pid)
        func cpu() -> Double? {
            let read = pids.compactMap { ProcessStats.read(pid: $0)?.cpuSeconds }
            return read.count == pids.count && !pids.isEmpty ? read.reduce(0, +) : nil
        }
        func rss() -> [Int]? {
            let read = pids.compactMap { ProcessStats.read(pid: $0)?.residentBytes }
            return read.count == pids.count && !pids.isEmpty ? read : nil
        }
        let expires = Date().addingTimeInterval(3600)
        var report = LoadTestReport(viewers: viewers, sources: sources, window: window, serverPID: target.pid)
        report.nodes = nodeURLs.count

        // The host, and a draft poll (drafts are invisible to viewers; its id lets them watch for the launch).
        let observations = Observations(viewers: viewers)
        let hostToken = try await tokens.mint(LiveloopClaims(sub: "loadtest-host", name: "Load test host", role: .host,
                                                             channel: target.channel, expires: expires))
        var hostConfiguration = InteractionClient.Configuration()
        hostConfiguration.clockSync = nil
        hostConfiguration.ignoredKinds = [.viewers, .reactions]
        hostConfiguration.envelopeBufferLimit = 0
        hostConfiguration.requestTimeout = .seconds(60)
        let pollIDBox = Mutex<String?>(nil)
        hostConfiguration.onEnvelope = { envelope in
            guard case .tally(let tally) = envelope.message, tally.pollID == pollIDBox.withLock({ $0 }) else { return }
            let now = ContinuousClock.now
            observations.tallies.withLock { $0.append((now, tally.ballots, tally.counts)) }
        }
        let host = try await InteractionClient.connect(url: socketURL, token: hostToken, configuration: hostConfiguration)
        let draft = try await host.perform(.pollCreate(.init(
            question: "Load test: pick one", options: (1...optionCount).map { "option \($0)" })))
        guard let pollID = draft.ref else { throw LoadTestFailure("poll.create was acknowledged without a poll id") }
        pollIDBox.withLock { $0 = pollID }

        // Tokens first, so that minting does not count against the connect rate.
        LoadTestSupport.log("minting \(viewers) viewer tokens")
        var viewerTokens: [String] = []
        viewerTokens.reserveCapacity(viewers)
        for index in 0..<viewers {
            viewerTokens.append(try await tokens.mint(LiveloopClaims(sub: "loadtest-viewer-\(index)", name: "viewer \(index)",
                                                                     role: .viewer, channel: target.channel, expires: expires)))
        }
        try await Task.sleep(for: .milliseconds(500))
        report.serverRSSBefore = rss()

        // Connect.
        LoadTestSupport.log("connecting \(viewers) viewers, \(concurrency) handshakes in flight")
        let connectStart = ContinuousClock.now
        let connected = await connectViewers(urls: nodeURLs, tokens: viewerTokens, pollID: pollID, observations: observations)
        let connectElapsed = ContinuousClock.now - connectStart
        report.connected = connected.clients.count
        report.connectFailures = connected.failures
        report.connectSeconds = connectElapsed.milliseconds / 1000
        LoadTestSupport.log("connected \(connected.clients.count) in \(String(format: "%.1f", report.connectSeconds)) s"
            + (connected.failures.isEmpty ? "" : "; failures: \(connected.failures.sorted { $0.value > $1.value }.prefix(3))"))
        if !connected.failures.isEmpty, let log = target.serverLog {
            LoadTestSupport.log("server log (tail):\n" + BenchSupport.tail(log))
        }
        guard !connected.clients.isEmpty else { throw LoadTestFailure("no viewer could connect") }
        // Let the viewer-count broadcasts of the ramp drain before reading memory.
        try await Task.sleep(for: .seconds(1))
        report.rampFrames = connected.clients.reduce(0) { $0 + $1.framesReceived }
        report.rampIgnoredFrames = connected.clients.reduce(0) { $0 + $1.framesIgnored }
        report.serverRSSConnected = rss()
        report.serverCPUBeforeVotes = cpu()
        let clientCPUBeforeVotes = ProcessStats.current().cpuSeconds

        // Launch, and wait for every viewer to see the poll.
        let launchedAt = ContinuousClock.now
        try await host.perform(.pollLaunch(.init(pollID: pollID)))
        let expected = connected.clients.count
        let fanOutDeadline = ContinuousClock.now + .seconds(60)
        while observations.pollCount.load(ordering: .relaxed) < expected, ContinuousClock.now < fanOutDeadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        let received = observations.pollReceived.withLock { $0 }.compactMap { $0 }
        report.fanOut = LatencySummary(latencies: received.map { ($0 - launchedAt).milliseconds }, expected: expected)

        // Vote: viewer k (in a shuffled order) at k/N of the window.
        LoadTestSupport.log("voting: \(expected) votes over \(window) s")
        report.serverCPUBeforeBurst = cpu()
        let votes = await vote(clients: connected.clients, pollID: pollID)
        report.serverCPUAfterVotes = cpu()
        report.clientCPUVotes = ProcessStats.current().cpuSeconds - clientCPUBeforeVotes
        let accepted = votes.filter { $0.outcome == .accepted }
        var expectedCounts = Array(repeating: 0, count: optionCount)
        for vote in accepted { expectedCounts[vote.choice] += 1 }

        // Wait for the host's tally to include every accepted vote (it comes every tick).
        let tallyDeadline = ContinuousClock.now + .seconds(30)
        while observations.tallies.withLock({ $0.last?.ballots ?? 0 }) < accepted.count, ContinuousClock.now < tallyDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let tallies = observations.tallies.withLock { $0 }
        report.votesSent = votes.count
        report.votesAccepted = accepted.count
        report.refusals = votes.reduce(into: [:]) { counts, vote in
            if case .refused(let code) = vote.outcome { counts[code.rawValue, default: 0] += 1 }
            if vote.outcome == .lost { counts["no answer", default: 0] += 1 }
        }
        if let first = votes.map(\.sentAt).min(), let last = votes.map(\.sentAt).max() {
            report.sendSeconds = (last - first).milliseconds / 1000
        }
        if let first = votes.map(\.sentAt).min(), let lastAck = accepted.map(\.answeredAt).max() {
            report.acceptedPerSecond = Double(accepted.count) / max((lastAck - first).milliseconds / 1000, 0.001)
        }
        report.voteToAck = LatencySummary(latencies: accepted.map { ($0.answeredAt - $0.sentAt).milliseconds }, expected: accepted.count)
        report.voteToTally = Self.voteToTally(sent: accepted.map(\.sentAt), tallies: tallies.map { ($0.at, $0.ballots) })
        report.finalCounts = tallies.last?.counts ?? []
        report.finalBallots = tallies.last?.ballots ?? 0
        report.expectedCounts = expectedCounts
        report.exact = report.finalCounts == expectedCounts && report.finalBallots == votes.count && accepted.count == votes.count

        _ = try? await host.perform(.pollClose(.init(pollID: pollID)))
        await host.close()
        return report
    }

    /// Opens the viewers, `concurrency` handshakes at a time, each socket bound to its source address.
    private func connectViewers(urls: [String], tokens: [String], pollID: String, observations: Observations) async
        -> (clients: [InteractionClient], failures: [String: Int]) {
        await withTaskGroup(of: (Int, Result<InteractionClient, any Error>).self) { group in
            var clients: [InteractionClient] = []
            var failures: [String: Int] = [:]
            clients.reserveCapacity(tokens.count)
            func collect(_ result: (Int, Result<InteractionClient, any Error>)) {
                switch result.1 {
                case .success(let client): clients.append(client)
                case .failure(let error): failures["\(error)", default: 0] += 1
                }
            }
            for (index, token) in tokens.enumerated() {
                var configuration = InteractionClient.Configuration()
                configuration.transport = .posix(localAddress: "127.0.0.\(1 + index % sources)")
                configuration.clockSync = nil
                configuration.reconnect = nil
                configuration.envelopeBufferLimit = 0
                configuration.ignoredKinds = [.viewers, .reactions]
                configuration.connectTimeout = .seconds(60)
                configuration.requestTimeout = .seconds(60)
                configuration.onEnvelope = { envelope in
                    guard case .poll(let poll) = envelope.message, poll.pollID == pollID, poll.phase == .live else { return }
                    let now = ContinuousClock.now
                    let first = observations.pollReceived.withLock { received in
                        defer { received[index] = received[index] ?? now }
                        return received[index] == nil
                    }
                    if first { observations.pollCount.add(1, ordering: .relaxed) }
                }
                if index >= concurrency, let result = await group.next() { collect(result) }
                let url = urls[index % urls.count]
                group.addTask {
                    do {
                        return (index, .success(try await InteractionClient.connect(url: url, token: token, configuration: configuration)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
                if index > 0, index.isMultiple(of: 5000) { LoadTestSupport.log("  \(index) handshakes started") }
            }
            for await result in group { collect(result) }
            return (clients, failures)
        }
    }

    /// Every client votes once; vote k of the shuffled order goes out at k/N of the window.
    private func vote(clients: [InteractionClient], pollID: String) async -> [Vote] {
        let order = clients.indices.shuffled()
        let start = ContinuousClock.now + .milliseconds(50)
        let count = Double(order.count)
        return await withTaskGroup(of: Vote.self) { group in
            for (slot, index) in order.enumerated() {
                let due = start + .seconds(window * Double(slot) / count)
                if due > ContinuousClock.now { try? await Task.sleep(until: due, clock: .continuous) }
                let client = clients[index]
                let choice = index % optionCount
                group.addTask {
                    let sentAt = ContinuousClock.now
                    do {
                        let reply = try await client.send(.pollVote(.init(pollID: pollID, choices: [choice])))
                        let answeredAt = ContinuousClock.now
                        if case .error(let error) = reply.message {
                            return Vote(sentAt: sentAt, answeredAt: answeredAt, choice: choice, outcome: .refused(error.code))
                        }
                        return Vote(sentAt: sentAt, answeredAt: answeredAt, choice: choice, outcome: .accepted)
                    } catch {
                        return Vote(sentAt: sentAt, answeredAt: ContinuousClock.now, choice: choice, outcome: .lost)
                    }
                }
            }
            var votes: [Vote] = []
            votes.reserveCapacity(clients.count)
            for await vote in group { votes.append(vote) }
            return votes
        }
    }

    /// Vote → host tally, by thresholds: the k-th vote sent is in the first tally counting at least k ballots. (Votes
    /// are not labelled in a tally, so this pairs them in send order; over a burst the error is small.)
    static func voteToTally(sent: [ContinuousClock.Instant], tallies: [(at: ContinuousClock.Instant, ballots: Int)]) -> LatencySummary {
        let sortedSent = sent.sorted()
        var latencies: [Double] = []
        latencies.reserveCapacity(sortedSent.count)
        var tallyIndex = 0
        for (offset, sentAt) in sortedSent.enumerated() {
            let needed = offset + 1
            while tallyIndex < tallies.count, tallies[tallyIndex].ballots < needed { tallyIndex += 1 }
            guard tallyIndex < tallies.count else { break }
            latencies.append(max(0, (tallies[tallyIndex].at - sentAt).milliseconds))
        }
        return LatencySummary(latencies: latencies, expected: sortedSent.count)
    }
}

/// The figures of one run, and the table they print as.
struct LoadTestReport {
    var viewers: Int
    var sources: Int
    var window: Double
    var serverPID: Int32?
    var connected = 0
    var connectFailures: [String: Int] = [:]
    var connectSeconds = 0.0
    /// Frames the viewers received while connecting (hello, then viewer counts and reactions, which are skipped).
    var rampFrames = 0
    var rampIgnoredFrames = 0
    /// Servers in the run (a cluster when above 1).
    var nodes = 1
    /// Each server's resident memory (one entry per node).
    var serverRSSBefore: [Int]?
    var serverRSSConnected: [Int]?
    var serverCPUBeforeVotes: Double?
    /// The server's CPU time after the launch's fan-out, before the first vote.
    var serverCPUBeforeBurst: Double?
    var serverCPUAfterVotes: Double?
    var clientCPUVotes = 0.0
    var fanOut = LatencySummary(latencies: [], expected: 0)
    var votesSent = 0
    var votesAccepted = 0
    var refusals: [String: Int] = [:]
    var sendSeconds = 0.0
    var acceptedPerSecond = 0.0
    var voteToAck = LatencySummary(latencies: [], expected: 0)
    var voteToTally = LatencySummary(latencies: [], expected: 0)
    var finalCounts: [Int] = []
    var finalBallots = 0
    var expectedCounts: [Int] = []
    var exact = false

    init(viewers: Int, sources: Int, window: Double, serverPID: Int32?) {
        self.viewers = viewers
        self.sources = sources
        self.window = window
        self.serverPID = serverPID
    }

    func table(fileLimit: Int) -> String {
        func ms(_ value: Double) -> String { value.isNaN ? "–" : String(format: "%.0f ms", value) }
        func latency(_ summary: LatencySummary) -> String {
            "p50 \(ms(summary.p50)) · p99 \(ms(summary.p99)) · max \(ms(summary.max))"
                + (summary.lost > 0 ? " (\(summary.lost) without a measurement)" : "")
        }
        func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        let failures = connectFailures.values.reduce(0, +)
        var rows: [(String, String)] = []
        rows.append(("viewer connections", "\(connected) of \(viewers)" + (failures > 0 ? " (\(failures) failed: \(connectFailures.keys.sorted().prefix(2).joined(separator: "; ")))" : "")))
        rows.append(("connect rate", String(format: "%.0f connections/s (%.1f s)", Double(connected) / max(connectSeconds, 0.001), connectSeconds)))
        rows.append(("frames to viewers while connecting", "\(rampFrames) (\(rampIgnoredFrames) viewer-count/reaction updates; "
            + String(format: "%.0f per viewer)", Double(rampFrames) / Double(max(connected, 1)))))
        if let before = serverRSSBefore, let after = serverRSSConnected, before.count == after.count {
            // Viewers go round-robin over the nodes: node k holds about connected / nodes of them.
            for (node, (idle, busy)) in zip(before, after).enumerated() {
                let held = connected / nodes + (node < connected % nodes ? 1 : 0)
                let perConnection = Double(busy - idle) / Double(max(held, 1))
                rows.append((nodes > 1 ? "server RSS, node \(node + 1)" : "server RSS",
                             "\(mib(idle)) idle → \(mib(busy)) with \(held) viewers: " + String(format: "%.1f KiB per connection", perConnection / 1024)))
            }
        } else {
            rows.append(("server RSS", "not measured (server not spawned by the load test)"))
        }
        rows.append(("poll-cue fan-out (launch → viewer)", "p50 \(ms(fanOut.p50)) · p99 \(ms(fanOut.p99)) · last viewer \(ms(fanOut.max))"
            + (fanOut.lost > 0 ? " (\(fanOut.lost) never got it)" : "")))
        rows.append(("votes sent", "\(votesSent) over " + String(format: "%.2f s (window %g s)", sendSeconds, window)))
        let refused = refusals.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        rows.append(("votes accepted", "\(votesAccepted)" + (refused.isEmpty ? "" : " (\(refused))")
            + String(format: " · %.0f votes/s (first vote → last ack)", acceptedPerSecond)))
        rows.append(("vote → ack", latency(voteToAck)))
        rows.append(("vote → host tally", latency(voteToTally)))
        if let before = serverCPUBeforeVotes, let after = serverCPUAfterVotes {
            rows.append(("CPU, launch + burst", String(format: "server %.2f CPU-s · load generator %.2f CPU-s", after - before, clientCPUVotes)))
        }
        if let burst = serverCPUBeforeBurst, let after = serverCPUAfterVotes, votesAccepted > 0 {
            // The server's own CPU time (utime + stime from /proc) from the first vote to the last ack, per accepted vote:
            // parsing, judging, committing, acknowledging, and the tally broadcasts of those ticks.
            rows.append((nodes > 1 ? "server CPU per vote (all nodes)" : "server CPU per vote", String(format: "%.1f µs (%.2f CPU-s for %d accepted votes)",
                                                       (after - burst) / Double(votesAccepted) * 1_000_000, after - burst, votesAccepted)))
        }
        rows.append(("final tally", "\(finalCounts) = \(finalBallots) ballots; expected \(expectedCounts) of \(votesSent) sent: "
            + (exact ? "exact, no vote lost" : "MISMATCH")))

        let width = rows.map(\.0.count).max() ?? 10
        var lines = [
            "",
            "liveloop loadtest: \(viewers) viewers" + (nodes > 1 ? " on \(nodes) nodes (host on node 1)" : "") + " from \(sources) source address(es), \(window) s vote window, "
                + "\(ProcessInfo.processInfo.activeProcessorCount) cores, open-file limit \(fileLimit)"
                + (serverPID.map { ", server pid \($0)" } ?? ""),
            "",
            "| " + "measure".padding(toLength: width, withPad: " ", startingAt: 0) + " | value |",
            "|" + String(repeating: "-", count: width + 2) + "|-------|",
        ]
        for (name, value) in rows {
            lines.append("| " + name.padding(toLength: width, withPad: " ", startingAt: 0) + " | \(value) |")
        }
        return lines.joined(separator: "\n")
    }
}

/// Why a load test could not run or finish.
struct LoadTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum LoadTestSupport {
    /// Descriptors kept free besides one per viewer: listeners, the store, event loops, /proc reads.
    static let descriptorReserve = 256

    /// Raises this process's soft RLIMIT_NOFILE to its hard limit (a spawned server inherits it); returns the limit.
    static func raiseFileLimit() -> Int {
        var limit = rlimit()
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    static func log(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
