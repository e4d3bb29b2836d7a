import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import NIOCore
import Synchronization
import Testing

/// Cues on the video timeline, per-viewer delivery and fair windows, against a server publishing its demo clip.
@Suite("Sync with video", .serialized)
struct SyncTests {
    func token(_ server: TestServer, sub: String, role: Role) async throws -> String {
        try await server.server.tokens.mint(
            LiveloopClaims(sub: sub, name: sub, role: role, channel: "demo", expires: Date().addingTimeInterval(3600)))
    }

    /// A client that records when (local clock, ms) each room message arrived on its socket.
    final class Recorder: Sendable {
        let arrivals = Mutex<[(at: Int64, envelope: ServerEnvelope)]>([])

        var configuration: InteractionClient.Configuration {
            var configuration = InteractionClient.Configuration()
            configuration.clockSync = nil
            configuration.reconnect = nil
            configuration.ignoredKinds = [.viewers, .reactions]
            configuration.onEnvelope = { [self] envelope in
                let now = Timestamp(Date()).unixMilliseconds
                arrivals.withLock { $0.append((now, envelope)) }
            }
            return configuration
        }

        /// Arrival time of the first message matching `match`.
        func arrival(_ match: (ServerEnvelope) -> Bool) -> (at: Int64, envelope: ServerEnvelope)? {
            arrivals.withLock { $0.first { match($0.envelope) } }
        }
    }

    static func isResults(_ envelope: ServerEnvelope) -> Bool {
        if case .results = envelope.message { true } else { false }
    }

    static func isLivePoll(_ envelope: ServerEnvelope) -> Bool {
        if case .poll(let view) = envelope.message { view.phase == .live } else { false }
    }

    func startLive() async throws -> TestServer {
        let server = try await TestServer.start(demo: true)
        #expect(await eventually { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })
        return server
    }

    @Test("results reach a viewer a short lead before its own playhead does, staff at once, and the cue is in the video")
    func noSpoilers() async throws {
        let server = try await startLive()
        let url = InteractionClient.url(server: "http://127.0.0.1:\(server.httpPort)", channel: "demo")
        let hostLog = Recorder(), lateLog = Recorder(), nearLog = Recorder()
        let host = try await InteractionClient.connect(url: url, token: try await token(server, sub: "host", role: .host),
                                                       configuration: hostLog.configuration)
        let late = try await InteractionClient.connect(url: url, token: try await token(server, sub: "late", role: .viewer),
                                                       configuration: lateLog.configuration)
        let near = try await InteractionClient.connect(url: url, token: try await token(server, sub: "near", role: .viewer),
                                                       configuration: nearLog.configuration)
        // The late viewer's player is 2 s behind ingest; the near one 0.3 s.
        #expect(try await late.send(.sync(.init(latencyMs: 2000, rttMs: 2))).message == .ack(.init()))
        #expect(try await near.send(.sync(.init(latencyMs: 300, rttMs: 2))).message == .ack(.init()))

        let pollID = try #require(try await host.perform(.pollCreate(.init(question: "Cats or dogs?", options: ["cats", "dogs"]))).ref)
        try await host.perform(.pollLaunch(.init(pollID: pollID)))
        try await host.perform(.pollReveal(.init(pollID: pollID)))

        // The host sees the results at once, stamped with the broadcast's timeline.
        #expect(await eventually(timeout: .seconds(2)) { hostLog.arrival(Self.isResults) != nil })
        let hostResults = try #require(hostLog.arrival(Self.isResults))
        let cue = try #require(hostResults.envelope.cue, "a host action during a live broadcast carries a cue")
        #expect(hostResults.at - cue.at.unixMilliseconds < 300)

        // Each viewer's copy leaves no earlier than its playhead minus the largest lead (600 ms), and arrives before
        // its playhead gets there.
        #expect(await eventually(timeout: .seconds(5)) { lateLog.arrival(Self.isResults) != nil })
        for (log, latency) in [(lateLog, Int64(2000)), (nearLog, Int64(300))] {
            let results = try #require(log.arrival(Self.isResults))
            #expect(results.envelope.cue == cue)
            let early = cue.at.unixMilliseconds + latency - results.at
            #expect(early >= 0 && early <= 600 + 20, "results arrived \(early) ms before the viewer's playhead reached them (latency \(latency) ms)")
            // Nothing that gives the result away came before: the launch came ahead of it, in order.
            let launch = try #require(log.arrival(Self.isLivePoll))
            #expect(launch.at <= results.at)
        }

        // The same cue is in the video: an EXT-X-DATERANGE whose START-DATE is the cue's program date.
        let playlist = try await server.get("/live/demo/media.m3u8")
        let text = String(decoding: playlist.body.readableBytesView, as: UTF8.self)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let start = formatter.string(from: cue.at.date)
        let tag = text.split(separator: "\n").first { $0.hasPrefix("#EXT-X-DATERANGE:") && $0.contains("X-LIVELOOP-KIND=\"poll.reveal\"") }
        #expect(tag?.contains("START-DATE=\"\(start)\"") == true, "\(tag ?? "no poll.reveal DATERANGE") vs \(start)")

        for client in [host, late, near] { await client.close() }
        await server.stop()
    }

    @Test("a quiz answer is timed from the viewer's own display, and a claim beyond its reported latency buys nothing")
    func fairWindows() async throws {
        let server = try await startLive()
        let url = InteractionClient.url(server: "http://127.0.0.1:\(server.httpPort)", channel: "demo")
        let hostLog = Recorder(), honestLog = Recorder(), liarLog = Recorder()
        let host = try await InteractionClient.connect(url: url, token: try await token(server, sub: "host", role: .host),
                                                       configuration: hostLog.configuration)
        let honest = try await InteractionClient.connect(url: url, token: try await token(server, sub: "honest", role: .viewer),
                                                         configuration: honestLog.configuration)
        let liar = try await InteractionClient.connect(url: url, token: try await token(server, sub: "liar", role: .viewer),
                                                       configuration: liarLog.configuration)
        _ = try await honest.send(.sync(.init(latencyMs: 1200, rttMs: 2)))
        _ = try await liar.send(.sync(.init(latencyMs: 200, rttMs: 2)))
        let question = QuizDefinition.Question(prompt: "2 + 2?", options: ["3", "4"], correct: Choices(indices: [1])!, windowSeconds: 10)
        let quizID = try #require(try await host.perform(.quizCreate(.init(title: "Maths", questions: [question]))).ref)
        try await host.perform(.quizNext(.init(quizID: quizID)))
        #expect(await eventually(timeout: .seconds(2)) { hostLog.arrival { if case .quiz = $0.message { true } else { false } } != nil })
        let shown = try #require(hostLog.arrival { if case .quiz = $0.message { $0.cue != nil } else { false } })
        let cue = try #require(shown.envelope.cue)

        // The honest viewer's playhead shows the question 1.2 s after the cue; it answers 0.4 s after that.
        let honestDisplay = cue.at + .milliseconds(1200)
        try await Task.sleep(for: .seconds(Double(honestDisplay.unixMilliseconds + 400 - Timestamp(Date()).unixMilliseconds) / 1000))
        let honestAck = try await honest.perform(.quizAnswer(.init(quizID: quizID, question: 0, choices: [1], shownAt: honestDisplay)))
        let honestResponse = try #require(honestAck.responseMs)
        #expect((380...520).contains(honestResponse), "honest response \(honestResponse) ms, answered 400 ms after display")

        // The liar reported 0.2 s but claims it saw the question 3 s after the cue: the claim is cut to its report.
        let liarAck = try await liar.perform(.quizAnswer(.init(quizID: quizID, question: 0, choices: [1],
                                                               shownAt: cue.at + .seconds(3))))
        let liarResponse = try #require(liarAck.responseMs)
        let elapsed = Timestamp(Date()).unixMilliseconds - cue.at.unixMilliseconds
        #expect(liarResponse >= elapsed - 200 - 100 - 50, "liar judged at \(liarResponse) ms after \(elapsed) ms since the cue")

        for client in [host, honest, liar] { await client.close() }
        await server.stop()
    }
}
