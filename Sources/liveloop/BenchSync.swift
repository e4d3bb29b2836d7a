import ArgumentParser
import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import Synchronization

/// `liveloop bench sync`: do simulated viewers at different network distances show each cue at the same moment, and
/// does each get the same answer window?
///
/// Spawns `liveloop serve --demo` (a live broadcast with a stream clock, so host actions carry cues), connects N Swift
/// SDK viewers, each with its own one-way network delay (spread evenly over --min-delay…--max-delay, both directions),
/// clock sync over that delay and a playhead held at the channel's target latency. The host shows a series of quiz
/// questions; each viewer shows a question when its playhead reaches the cue, answers a fixed time later, and keeps
/// the server's judged response time. One machine, one clock: display moments are compared on the real clock.
struct BenchSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Measure how closely simulated viewers with different network delays show each cue, and their answer-window error."
    )

    @Option(help: "Simulated viewers.") var viewers = 24
    @Option(help: "Cues (quiz questions) to launch.") var cues = 8
    @Option(name: .customLong("min-delay"), help: "Smallest one-way network delay, ms.") var minDelay = 20
    @Option(name: .customLong("max-delay"), help: "Largest one-way network delay, ms.") var maxDelay = 400
    @Option(help: "Extra one-way delay per frame, uniform in 0…this many ms, each direction (frames keep their order).")
    var jitter = 0
    @Option(help: "Playhead latency the viewers hold, seconds (default: the channel's WebSocket target from hello).")
    var target: Double?
    @Option(help: "Each question's answer window, seconds.") var window = 3
    @Option(name: .customLong("answer-after"), help: "Seconds after display at which each viewer answers.")
    var answerAfter = 0.8

    func validate() throws {
        guard (1...2_000).contains(viewers) else { throw ValidationError("--viewers must be 1–2000") }
        guard (1...100).contains(cues) else { throw ValidationError("--cues must be 1–100") }
        guard minDelay >= 0, maxDelay >= minDelay, maxDelay <= 2_000 else { throw ValidationError("delays must be 0 ≤ min ≤ max ≤ 2000 ms") }
        guard (0...2_000).contains(jitter) else { throw ValidationError("--jitter must be 0–2000 ms") }
        guard (1...60).contains(window), answerAfter > 0, answerAfter < Double(window) else {
            throw ValidationError("--window must be 1–60 s and --answer-after inside it")
        }
    }

    /// What one viewer saw of one cue.
    struct Display: Sendable {
        var viewer: Int
        var question: Int
        var cueAt: Int64
        var arrivedAt: Int64?
        var shownAt: Int64
        var responseMs: Int64?
        var answeredAfterMs: Int64?
        var refused: ErrorCode?
    }

    func run() async throws {
        let target = try await LoadTestTarget.prepare(url: nil, dataDirectory: nil, channel: "demo", demo: true)
        defer { target.cleanUp() }
        do {
            try await measure(target)
            await target.stop()
        } catch {
            await target.stop()
            throw error
        }
    }

    private func measure(_ server: LoadTestTarget) async throws {
        let port = Int(server.baseURL.split(separator: ":").last ?? "") ?? 0
        let live = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < live {
            if let response = try? await HTTPConnection.with(host: "127.0.0.1", port: port, { try await $0.get("/live/demo/media.m3u8") }),
               response.status == 200 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let tokens = await TokenAuthority(secret: server.secret)
        let url = InteractionClient.url(server: server.baseURL, channel: "demo")
        func mint(_ sub: String, _ role: Role) async throws -> String {
            try await tokens.mint(LiveloopClaims(sub: sub, name: sub, role: role, channel: "demo", expires: Date().addingTimeInterval(3600)))
        }
        let host = try await InteractionClient.connect(url: url, token: try await mint("bench-host", .host))
        let latency = target ?? host.hello?.snapshot?.sync.ws ?? 0.5

        let displays = Shared<[Display]>([])
        let arrivals = Shared<[String: Int64]>([:])
        var clients: [InteractionClient] = []
        var delays: [Int] = []
        LoadTestSupport.log("connecting \(viewers) viewers, one-way delays \(minDelay)–\(maxDelay) ms, playhead \(latency) s behind ingest")
        for index in 0..<viewers {
            let delay = viewers == 1 ? minDelay : minDelay + (maxDelay - minDelay) * index / (viewers - 1)
            delays.append(delay)
            var configuration = InteractionClient.Configuration()
            configuration.simulatedDelay = .milliseconds(delay)
            if jitter > 0 { configuration.simulatedJitter = .milliseconds(jitter) }
            configuration.displayLatency = .seconds(latency)
            configuration.ignoredKinds = [.viewers, .reactions]
            configuration.clockSync = .init(samples: 5, interval: .seconds(30))
            configuration.onEnvelope = { envelope in
                guard case .quiz(let view) = envelope.message, let question = view.question, envelope.cue != nil else { return }
                let now = Timestamp(Date()).unixMilliseconds
                arrivals.withLock { $0["\(index)/\(question.index)/\(view.phase)"] = now }
            }
            let box = Shared<InteractionClient?>(nil)
            let answerAfter = self.answerAfter
            configuration.onDisplay = { envelope, _ in
                guard case .quiz(let view) = envelope.message, view.phase == .asking, let question = view.question,
                      let cue = envelope.cue else { return }
                let shown = Timestamp(Date()).unixMilliseconds
                let arrived = arrivals.withLock { $0["\(index)/\(question.index)/\(view.phase)"] }
                displays.withLock {
                    $0.append(Display(viewer: index, question: question.index, cueAt: cue.at.unixMilliseconds,
                                      arrivedAt: arrived, shownAt: shown))
                }
                guard let client = box.withLock({ $0 }) else { return }
                Task {
                    try? await Task.sleep(for: .seconds(answerAfter))
                    let shownAt = Timestamp(unixMilliseconds: shown)
                    let sentAt = Timestamp(Date()).unixMilliseconds
                    let reply = try? await client.send(.quizAnswer(.init(quizID: view.quizID, question: question.index,
                                                                         choices: [0], shownAt: shownAt)))
                    displays.withLock { all in
                        guard let i = all.lastIndex(where: { $0.viewer == index && $0.question == question.index }) else { return }
                        all[i].answeredAfterMs = sentAt - shown
                        switch reply?.message {
                        case .ack(let ack)?: all[i].responseMs = ack.responseMs
                        case .error(let error)?: all[i].refused = error.code
                        default: all[i].refused = .conflict
                        }
                    }
                }
            }
            let client = try await InteractionClient.connect(url: url, token: try await mint("bench-viewer-\(index)", .viewer),
                                                             configuration: configuration)
            box.withLock { $0 = client }
            clients.append(client)
        }
        // Clock sync over the simulated delays, then every viewer tells the server where its playhead is.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in clients {
                group.addTask {
                    try await client.synchronizeClock(samples: 5)
                    client.reportSync(latency: .seconds(latency))
                }
            }
            try await group.waitForAll()
        }
        try await Task.sleep(for: .milliseconds(Int(maxDelay) + 200))
        let offsets = clients.compactMap { $0.clockOffset.map { abs(Double($0.components.attoseconds) / 1e15 + Double($0.components.seconds) * 1000) } }

        let questions = (0..<cues).map { index in
            QuizDefinition.Question(prompt: "Cue \(index + 1)", options: ["a", "b"], correct: Choices(indices: [0]) ?? [],
                                    windowSeconds: window)
        }
        let quizID = try await host.perform(.quizCreate(.init(title: "bench sync", questions: questions))).ref ?? ""
        LoadTestSupport.log("launching \(cues) cues")
        for _ in 0..<cues {
            try await host.perform(.quizNext(.init(quizID: quizID)))
            try await Task.sleep(for: .seconds(Double(window) + latency + 1.0))
            try await host.perform(.quizClose(.init(quizID: quizID)))
            try await Task.sleep(for: .milliseconds(200))
        }
        try await Task.sleep(for: .milliseconds(500))
        for client in clients { await client.close() }
        await host.close()

        let all = displays.withLock { $0 }

        print(report(all, offsets: offsets, latency: latency))
    }

    private func report(_ all: [Display], offsets: [Double], latency: Double) -> String {
        let ideal = { (display: Display) in Double(display.cueAt) + latency * 1000 }
        let errors = all.map { Double($0.shownAt) - ideal($0) }
        var spreads: [Double] = []
        for question in Set(all.map(\.question)) {
            let shown = all.filter { $0.question == question }.map { Double($0.shownAt) }
            if let low = shown.min(), let high = shown.max() { spreads.append(high - low) }
        }
        let windowErrors = all.compactMap { d in d.responseMs.flatMap { r in d.answeredAfterMs.map { Double(r - $0) } } }
        let late = all.filter { d in d.arrivedAt.map { Double($0) > ideal(d) } ?? false }.count
        let refused = all.filter { $0.refused != nil }
        func line(_ values: [Double]) -> String {
            let summary = LatencySummary(latencies: values, expected: values.count)
            return String(format: "p50 %.0f ms · p95 %.0f ms · max %.0f ms", summary.p50, summary.p95, summary.max)
        }
        let expected = viewers * cues
        var rows: [(String, String)] = []
        rows.append(("viewers × cues", "\(viewers) × \(cues); one-way delay \(minDelay)–\(maxDelay) ms + jitter 0–\(jitter) ms; playhead \(latency) s"))
        rows.append(("cues shown", "\(all.count) of \(expected)"))
        rows.append(("spread of display moments per cue", line(spreads)))
        rows.append(("|display − playhead reaches cue|", line(errors.map(abs))))
        rows.append(("display − playhead (signed)", String(format: "min %.0f ms · max %.0f ms", errors.min() ?? .nan, errors.max() ?? .nan)))
        rows.append(("cue messages arriving after their moment", "\(late) of \(all.count)"))
        rows.append(("|answer-window error| (judged − own)", line(windowErrors.map(abs))))
        rows.append(("answer-window error (signed)", String(format: "min %.0f ms · max %.0f ms", windowErrors.min() ?? .nan, windowErrors.max() ?? .nan)))
        rows.append(("answers refused", refused.isEmpty ? "none" : "\(refused.count): \(Set(refused.compactMap { $0.refused?.rawValue }).sorted())"))
        rows.append(("|clock offset| estimated (true 0)", line(offsets)))
        var text = "\nliveloop bench sync: \(ProcessInfo.processInfo.activeProcessorCount) cores, loopback, simulated network delays\n\n"
        text += "| measure | value |\n|---|---|\n"
        for (name, value) in rows { text += "| \(name) | \(value) |\n" }
        return text
    }
}

/// A value behind a lock that closures and tasks can share.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result { value.withLock { body(&$0) } }
}
