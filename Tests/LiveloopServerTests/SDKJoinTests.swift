import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import NIOHTTP1
import Storage
import Synchronization
import Testing

/// The app-facing Swift SDK against a real server: joining (open, signed, guest), the typed streams and actions,
/// one ballot across connections, and cues held for the app's playhead.
@Suite("Swift SDK: join and typed streams", .serialized)
struct SDKJoinTests {
    static func base(_ server: TestServer) -> String { "http://127.0.0.1:\(server.httpPort)" }

    /// A viewer's configuration for tests: no automatic clock sync rounds beyond the first, short timeouts.
    static var configuration: InteractionClient.Configuration {
        var configuration = InteractionClient.Configuration()
        configuration.clockSync = nil
        configuration.connectTimeout = .seconds(10)
        configuration.requestTimeout = .seconds(10)
        return configuration
    }

    static func host(_ server: TestServer, channel: String) async throws -> InteractionClient {
        let token = try await server.server.tokens.mint(
            LiveloopClaims(sub: "host-1", name: "Hal", role: .host, channel: channel, expires: Date().addingTimeInterval(3600)))
        return try await InteractionClient.join(server: base(server), channel: channel, as: .token(token), configuration: configuration)
    }

    /// The first element of `stream` that satisfies `match`, within `timeout`.
    static func first<Element: Sendable>(_ stream: AsyncStream<Element>, timeout: Duration = .seconds(10),
                                         where match: @escaping @Sendable (Element) -> Bool) async -> Element? {
        await withTaskGroup(of: Element?.self) { group in
            group.addTask {
                for await element in stream where match(element) { return element }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let found = await group.next() ?? nil
            group.cancelAll()
            return found
        }
    }

    @Test("open join by name: the viewer gets a poll from `polls`, votes, and reads the revealed counts from `results`")
    func openJoinVoteResults() async throws {
        let server = try await TestServer.start()
        _ = try server.createChannel("show")
        let page = try await InteractionClient.channelPage(server: Self.base(server), channel: "show")
        #expect(page.join == .open && !page.private)

        let viewer = try await InteractionClient.join(server: Self.base(server), channel: "show", name: "Ada",
                                                      configuration: Self.configuration)
        let pass = try #require(viewer.joinPass)
        #expect(viewer.identity?.sub == pass.sub && pass.sub.hasPrefix("open-"))
        #expect(viewer.identity?.name == "Ada" && viewer.identity?.role == .viewer)
        #expect(pass.renewAt > Date() && pass.expiresAt > pass.renewAt)

        let host = try await Self.host(server, channel: "show")
        let created = try await host.perform(.pollCreate(.init(question: "Tea or coffee?", options: ["tea", "coffee"])))
        let pollID = try #require(created.ref)
        try await host.perform(.pollLaunch(.init(pollID: pollID)))

        let live = await Self.first(viewer.polls) { $0.pollID == pollID && $0.phase == .live }
        #expect(live?.question == "Tea or coffee?" && live?.results == nil, "a viewer sees no counts before the reveal")
        try await viewer.vote(poll: pollID, choice: 1)
        do throws(InteractionClientError) {
            try await viewer.vote(poll: pollID, choice: 0)
            Issue.record("a second ballot was taken")
        } catch .refused(let body) {
            #expect(body.code == .alreadyVoted)
        } catch {
            Issue.record("unexpected \(error)")
        }

        try await host.perform(.pollReveal(.init(pollID: pollID)))
        let results = await Self.first(viewer.results) { $0.pollID == pollID }
        #expect(results?.counts == [0, 1] && results?.ballots == 1)
        let revealed = await Self.first(viewer.polls) { $0.pollID == pollID && $0.phase == .revealed }
        #expect(revealed?.results?.counts == [0, 1])

        // Chat and Q&A through the typed methods come back on their streams.
        let messageID = try await viewer.chat("hello from the SDK")
        let echoed = await Self.first(viewer.chat) { if case .message(let message) = $0 { message.messageID == messageID } else { false } }
        #expect(echoed != nil)
        let questionID = try #require(try await viewer.ask("Will there be an encore?"))
        #expect(questionID.isEmpty == false)
        #expect(throws: InteractionClientError.self) { try viewer.react("🦖") }

        await viewer.close()
        await host.close()
        await server.stop()
    }

    @Test("the same joined viewer on another connection, and after a token renewal, still has one ballot")
    func oneBallotAcrossConnections() async throws {
        let server = try await TestServer.start()
        _ = try server.createChannel("show")
        let host = try await Self.host(server, channel: "show")
        let created = try await host.perform(.pollCreate(.init(question: "Left or right?", options: ["left", "right"])))
        let pollID = try #require(created.ref)
        try await host.perform(.pollLaunch(.init(pollID: pollID)))

        let first = try await InteractionClient.join(server: Self.base(server), channel: "show", name: "Ada", configuration: Self.configuration)
        let pass = try #require(first.joinPass)
        try await first.vote(poll: pollID, choice: 0)
        await first.close()

        // A relaunch with the saved pass, due for renewal: the token is renewed for the same sub.
        var due = pass
        due.renewAt = Date(timeIntervalSinceNow: -1)
        let second = try await InteractionClient.join(server: Self.base(server), channel: "show", as: .name("Ada", resuming: due),
                                                      configuration: Self.configuration)
        #expect(second.identity?.sub == pass.sub)
        #expect(second.token != pass.token, "renewed")
        #expect(second.joinPass?.sub == pass.sub && (second.joinPass?.renewAt ?? .distantPast) > Date())
        do throws(InteractionClientError) {
            try await second.vote(poll: pollID, choice: 1)
            Issue.record("a second ballot was taken")
        } catch .refused(let body) {
            #expect(body.code == .alreadyVoted)
        } catch {
            Issue.record("unexpected \(error)")
        }

        // A pass that expired cannot be renewed: the viewer joins afresh as someone new.
        var expired = pass
        expired.expiresAt = Date(timeIntervalSinceNow: -1)
        expired.renewAt = Date(timeIntervalSinceNow: -2)
        let third = try await InteractionClient.join(server: Self.base(server), channel: "show", as: .name("Ada", resuming: expired),
                                                     configuration: Self.configuration)
        #expect(third.identity?.sub != pass.sub && third.identity?.sub.hasPrefix("open-") == true)

        let (_, room) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/room", bearer: host.token)
        let poll = (room?["polls"] as? [[String: Any]])?.first { $0["pollID"] as? String == pollID }
        #expect((poll?["results"] as? [String: Any])?["ballots"] as? Int == 1)

        await second.close()
        await third.close()
        await host.close()
        await server.stop()
    }

    @Test("signed sign-in: the app's backend token signs in as its user; open joins and names staff use are refused with codes")
    func signedAndRefusals() async throws {
        let server = try await TestServer.start()
        _ = try server.createChannel("show")
        let adminKey = try #require(try server.store.ensureAdminKey())
        do throws(InteractionClientError) {
            _ = try await InteractionClient.join(server: Self.base(server), channel: "show", name: "H0st", configuration: Self.configuration)
        } catch .join(.refused(let status, let code, _)) {
            #expect(status == 400 && code == "name_reserved")
        } catch {
            Issue.record("unexpected \(error)")
        }

        _ = try await httpRequest(port: server.httpPort, .PUT, "/api/v1/channels/show/audience", bearer: adminKey, body: #"{"join":"signed"}"#)
        let key = try await AudienceTests.signingKey(server, "show", adminKey: adminKey)
        #expect(try await InteractionClient.channelPage(server: Self.base(server), channel: "show").join == .signed)
        do throws(InteractionClientError) {
            _ = try await InteractionClient.join(server: Self.base(server), channel: "show", name: "Ada", configuration: Self.configuration)
            Issue.record("an open join on a signed channel was taken")
        } catch .join(.refused(let status, let code, _)) {
            #expect(status == 403 && code == "join_closed")
        } catch {
            Issue.record("unexpected \(error)")
        }

        let asked = Atomic<Int>(0)
        let backend: @Sendable () async throws -> String = {
            asked.add(1, ordering: .relaxed)
            return try await AudienceTests.customerToken(key: key, channel: "show", sub: "user-42", name: "Ada")
        }
        let viewer = try await InteractionClient.join(server: Self.base(server), channel: "show", as: .signed(backend),
                                                      configuration: Self.configuration)
        #expect(viewer.identity?.sub == "user-42" && viewer.identity?.role == .viewer && viewer.identity?.name == "Ada")
        #expect(asked.load(ordering: .relaxed) == 1)
        #expect(viewer.joinPass == nil)

        let host = try await Self.host(server, channel: "show")
        let pollID = try #require(try await host.perform(.pollCreate(.init(question: "Yes?", options: ["yes", "no"]))).ref)
        try await host.perform(.pollLaunch(.init(pollID: pollID)))
        try await viewer.vote(poll: pollID, choice: 0)
        // A second device of the same user: a fresh token from the backend, the same sub, no second ballot.
        let tablet = try await InteractionClient.join(server: Self.base(server), channel: "show", as: .signed(backend),
                                                      configuration: Self.configuration)
        do throws(InteractionClientError) {
            try await tablet.vote(poll: pollID, choice: 1)
            Issue.record("a second ballot was taken")
        } catch .refused(let body) {
            #expect(body.code == .alreadyVoted)
        } catch {
            Issue.record("unexpected \(error)")
        }

        // A backend that fails is a typed error too.
        do throws(InteractionClientError) {
            _ = try await InteractionClient.join(server: Self.base(server), channel: "show",
                                                 as: .signed({ throw CancellationError() }), configuration: Self.configuration)
            Issue.record("joined without a token")
        } catch .join(.tokenProvider) {
        } catch {
            Issue.record("unexpected \(error)")
        }

        await viewer.close()
        await tablet.close()
        await host.close()
        await server.stop()
    }

    @Test("a guest joins where the channel allows guests, watches, and is refused a vote with forbidden")
    func guest() async throws {
        let server = try await TestServer.start()
        _ = try server.createChannel("show")
        try server.store.saveChannelSettings(channel: "show", body: Data(#"{"allowAnonymous":true}"#.utf8), allowAnonymous: true)
        #expect(try await InteractionClient.channelPage(server: Self.base(server), channel: "show").guestsAllowed)
        let guest = try await InteractionClient.join(server: Self.base(server), channel: "show", as: .guest, configuration: Self.configuration)
        #expect(guest.identity?.role == .guest && guest.token == nil)
        let host = try await Self.host(server, channel: "show")
        let pollID = try #require(try await host.perform(.pollCreate(.init(question: "Yes?", options: ["yes", "no"]))).ref)
        try await host.perform(.pollLaunch(.init(pollID: pollID)))
        #expect(await Self.first(guest.polls) { $0.pollID == pollID } != nil)
        do throws(InteractionClientError) {
            try await guest.vote(poll: pollID, choice: 0)
            Issue.record("a guest voted")
        } catch .refused(let body) {
            #expect(body.code == .forbidden)
        } catch {
            Issue.record("unexpected \(error)")
        }
        await guest.close()
        await host.close()
        await server.stop()
    }

    @Test("with a playhead 2 s behind (the app's, or the server clock minus displayLatency), a poll comes out of `polls` when the playhead reaches its cue, and chat does not wait",
          arguments: [true, false])
    func playheadHoldsCues(appPlayhead: Bool) async throws {
        let server = try await TestServer.start(demo: true)
        #expect(await eventually { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })
        let behind: TimeInterval = 2
        var configuration = Self.configuration
        if appPlayhead {
            configuration.playhead = { Date().addingTimeInterval(-behind) }
        } else {
            configuration.displayLatency = .seconds(behind)
        }
        let viewer = try await InteractionClient.join(server: Self.base(server), channel: "demo", name: "Ada", configuration: configuration)
        let host = try await Self.host(server, channel: "demo")

        let pollID = try #require(try await host.perform(.pollCreate(.init(question: "Now?", options: ["yes", "no"]))).ref)
        let launched = Date()
        try await host.perform(.pollLaunch(.init(pollID: pollID)))
        try await host.perform(.chatSend(.init(text: "right after the launch")))
        let chatAt = await Self.first(viewer.chat) { if case .message(let message) = $0 { message.text == "right after the launch" } else { false } }
            .map { _ in Date() }
        let cued = await Self.first(viewer.cues) { $0.kind == .poll }
        let pollAt = Date()
        let cue = try #require(cued?.cue, "a launch during a live broadcast carries a cue")
        let live = await Self.first(viewer.polls) { $0.pollID == pollID && $0.phase == .live }
        #expect(live != nil)
        // Shown once the playhead (now − 2 s) reached the cue, and not much later.
        let playheadAtShow = pollAt.addingTimeInterval(-behind)
        #expect(playheadAtShow.timeIntervalSince(cue.at.date) >= -0.005, "shown \(playheadAtShow.timeIntervalSince(cue.at.date)) s from the cue")
        #expect(pollAt.timeIntervalSince(launched) < behind + 1.0)
        // Chat passes at once: the room's chat is not a host action on the timeline.
        let chatDelay = try #require(chatAt).timeIntervalSince(launched)
        #expect(chatDelay < behind, "chat waited \(chatDelay) s")

        await viewer.close()
        await host.close()
        await server.stop()
    }
}

@Suite("cue scheduler")
struct CueSchedulerTests {
    static let origin = Date(timeIntervalSince1970: 1_767_225_600)

    static func at(_ seconds: Double) -> Date { origin.addingTimeInterval(seconds) }

    static func cue(_ seconds: Double) -> CueStamp {
        CueStamp(at: Timestamp(unixMilliseconds: Int64((origin.timeIntervalSince1970 + seconds) * 1000)), mediaTime: seconds)
    }

    static func poll(_ id: String, seq: UInt64, cue: CueStamp?, phase: Poll.Phase = .live) -> ServerEnvelope {
        var poll = PollView(Poll(definition: PollDefinition(pollID: id, question: "?", options: ["a", "b"])), includeTally: false)
        poll.phase = phase
        return ServerEnvelope(seq: seq, cue: cue, .poll(poll))
    }

    static func chat(_ text: String, seq: UInt64) -> ServerEnvelope {
        ServerEnvelope(seq: seq, .chat(ChatMessage(messageID: "m\(seq)", sub: "u", name: "U", role: .viewer, text: text, at: Timestamp(origin))))
    }

    static func seqs(_ envelopes: [ServerEnvelope]) -> [UInt64] { envelopes.compactMap(\.seq) }

    @Test("a cued poll waits for the playhead to reach its cue; chat passes at once while it waits")
    func holdsUntilCue() {
        var scheduler = CueScheduler()
        #expect(Self.seqs(scheduler.take(Self.poll("p1", seq: 1, cue: Self.cue(10)), playhead: Self.at(8))).isEmpty)
        #expect(Self.seqs(scheduler.take(Self.chat("hi", seq: 2), playhead: Self.at(8.1))) == [2])
        #expect(scheduler.nextCueAt == Self.cue(10).at)
        #expect(scheduler.wait(playhead: Self.at(8.5)) == .milliseconds(1500))
        #expect(scheduler.release(playhead: Self.at(9.999)).isEmpty)
        #expect(Self.seqs(scheduler.release(playhead: Self.at(10))) == [1])
        #expect(scheduler.pending.isEmpty && scheduler.wait(playhead: Self.at(10)) == nil)
    }

    @Test("host actions keep room order: one without a cue waits behind a pending cue, later cues behind earlier ones")
    func keepsOrder() {
        var scheduler = CueScheduler()
        _ = scheduler.take(Self.poll("p1", seq: 1, cue: Self.cue(10)), playhead: Self.at(5))
        // A results message without a cue (no live broadcast at that instant) still waits behind the poll.
        let results = ServerEnvelope(seq: 2, .results(.init(pollID: "p1", counts: [1, 0], ballots: 1)))
        #expect(scheduler.take(results, playhead: Self.at(5)).isEmpty)
        _ = scheduler.take(Self.poll("p2", seq: 3, cue: Self.cue(12)), playhead: Self.at(5))
        #expect(Self.seqs(scheduler.release(playhead: Self.at(11))) == [1, 2])
        #expect(scheduler.wait(playhead: Self.at(11)) == .seconds(1))
        #expect(Self.seqs(scheduler.release(playhead: Self.at(12.5))) == [3])
        // With nothing held, a timeline message without a cue is shown at once.
        #expect(Self.seqs(scheduler.take(Self.poll("p3", seq: 4, cue: nil), playhead: Self.at(13))) == [4])
    }

    @Test("with no video playing every cue waits; a fresh snapshot drops what waits, a resumed session keeps it")
    func noPlayheadAndSnapshots() {
        var scheduler = CueScheduler()
        #expect(scheduler.take(Self.poll("p1", seq: 1, cue: Self.cue(1)), playhead: nil).isEmpty)
        #expect(scheduler.release(playhead: nil).isEmpty && scheduler.wait(playhead: nil) == nil)
        let identity = Identity(sub: "u", name: "U", role: .viewer)
        let resumed = ServerEnvelope(.hello(.init(serverTime: Timestamp(Self.origin), you: identity, currentSeq: 1, recovered: true, snapshot: nil)))
        #expect(scheduler.take(resumed, playhead: nil).count == 1 && scheduler.pending.count == 1)
        let fresh = ServerEnvelope(.hello(.init(serverTime: Timestamp(Self.origin), you: identity, currentSeq: 1, recovered: false, snapshot: nil)))
        #expect(scheduler.take(fresh, playhead: nil).count == 1 && scheduler.pending.isEmpty)
    }

    @Test("a paused player holds at most `capacity` messages; past that the oldest is shown")
    func bounded() {
        var scheduler = CueScheduler(capacity: 3)
        var shown: [UInt64] = []
        for seq in 1...5 as ClosedRange<UInt64> {
            shown += Self.seqs(scheduler.take(Self.poll("p\(seq)", seq: seq, cue: Self.cue(Double(seq) * 10)), playhead: Self.at(0)))
        }
        #expect(shown == [1, 2] && Self.seqs(scheduler.pending) == [3, 4, 5])
    }

    @Test("a playhead reading moves on at its rate between updates, and stands still while paused")
    func playheadExtrapolates() {
        let start = ContinuousClock.now
        let playing = PlayheadReading(programDate: Self.at(100), rate: 1, takenAt: start)
        #expect(playing.programDate(at: start + .milliseconds(1500)) == Self.at(101.5))
        let paused = PlayheadReading(programDate: Self.at(100), rate: 0, takenAt: start)
        #expect(paused.programDate(at: start + .seconds(5)) == Self.at(100))
        let playhead = Playhead()
        #expect(playhead.programDate() == nil)
        playhead.update(programDate: Self.at(50), rate: 1, at: start)
        #expect(playhead.programDate(at: start + .seconds(2)) == Self.at(52))
        playhead.update(programDate: nil)
        #expect(playhead.programDate() == nil)
    }
}
