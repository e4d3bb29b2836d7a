import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import NIOHTTP1
import Storage
import Synchronization
import Testing

/// The Swift SDK (`LiveloopClient.InteractionClient`) against a real server on loopback.
@Suite("Swift SDK", .serialized)
struct SDKTests {
    func token(_ server: TestServer, channel: String, sub: String, role: Role) async throws -> String {
        try await server.server.tokens.mint(
            LiveloopClaims(sub: sub, name: sub, role: role, channel: channel, expires: Date().addingTimeInterval(3600)))
    }

    func url(_ server: TestServer, _ channel: String) -> String {
        InteractionClient.url(server: "http://127.0.0.1:\(server.httpPort)", channel: channel)
    }

    /// A lean viewer: no clock sync, no reconnect, no envelope buffer, viewer counts skipped.
    func viewerConfiguration(transport: InteractionClient.Configuration.Transport,
                             onEnvelope: (@Sendable (ServerEnvelope) -> Void)? = nil) -> InteractionClient.Configuration {
        var configuration = InteractionClient.Configuration()
        configuration.transport = transport
        configuration.clockSync = nil
        configuration.reconnect = nil
        configuration.envelopeBufferLimit = 0
        configuration.ignoredKinds = [.viewers]
        configuration.onEnvelope = onEnvelope
        configuration.requestTimeout = .seconds(30)
        configuration.connectTimeout = .seconds(30)
        return configuration
    }

    @Test("1,000 concurrent SDK viewers vote once each; the host's live tally and GET /room equal the votes sent")
    func thousandViewersVote() async throws {
        let server = try await TestServer.start(httpLimits: .crowd)
        _ = try server.createChannel("show")
        let viewerCount = 1000
        let options = ["tea", "coffee", "water"]

        let lastTally = Mutex<ServerMessage.TallyView?>(nil)
        var hostConfiguration = InteractionClient.Configuration()
        hostConfiguration.clockSync = nil
        hostConfiguration.ignoredKinds = [.viewers]
        hostConfiguration.onEnvelope = { envelope in
            if case .tally(let tally) = envelope.message { lastTally.withLock { $0 = tally } }
        }
        let hostToken = try await token(server, channel: "show", sub: "host-1", role: .host)
        let host = try await InteractionClient.connect(url: url(server, "show"), token: hostToken, configuration: hostConfiguration)
        #expect(host.identity?.role == .host)
        let created = try await host.perform(.pollCreate(.init(question: "Tea, coffee or water?", options: options)))
        let pollID = try #require(created.ref)

        // Half the viewers on WSClient, half on the NIO transport bound to a second loopback address.
        let sawPoll = Atomic<Int>(0)
        let viewers = try await withThrowingTaskGroup(of: InteractionClient.self) { group in
            var clients: [InteractionClient] = []
            for index in 0..<viewerCount {
                let transport: InteractionClient.Configuration.Transport =
                    index.isMultiple(of: 2) ? .webSocketClient : .posix(localAddress: "127.0.0.2")
                let configuration = viewerConfiguration(transport: transport) { envelope in
                    if case .poll(let view) = envelope.message, view.pollID == pollID, view.phase == .live {
                        sawPoll.add(1, ordering: .relaxed)
                    }
                }
                let viewerToken = try await token(server, channel: "show", sub: "viewer-\(index)", role: .viewer)
                let address = url(server, "show")
                group.addTask {
                    try await InteractionClient.connect(url: address, token: viewerToken, configuration: configuration)
                }
                // At most 64 handshakes in flight.
                if index >= 64, let client = try await group.next() { clients.append(client) }
            }
            for try await client in group { clients.append(client) }
            return clients
        }
        #expect(viewers.count == viewerCount)
        #expect(Set(viewers.compactMap { $0.identity?.sub }).count == viewerCount)

        try await host.perform(.pollLaunch(.init(pollID: pollID)))
        #expect(await eventually { sawPoll.load(ordering: .relaxed) == viewerCount }, "every viewer got the poll")

        // Every viewer votes once, all at the same time.
        var expected = Array(repeating: 0, count: options.count)
        for index in 0..<viewerCount { expected[index % options.count] += 1 }
        let replies = try await withThrowingTaskGroup(of: ServerEnvelope.self) { group in
            for (index, viewer) in viewers.enumerated() {
                group.addTask { try await viewer.send(.pollVote(.init(pollID: pollID, choices: [index % options.count]))) }
            }
            return try await group.reduce(into: [ServerEnvelope]()) { $0.append($1) }
        }
        let acks = replies.filter { if case .ack = $0.message { true } else { false } }
        #expect(acks.count == viewerCount, "refused: \(replies.filter { if case .error = $0.message { true } else { false } }.prefix(3))")

        // The host's live tally converges on exactly the votes sent.
        let converged = await eventually {
            lastTally.withLock { $0.map { $0.pollID == pollID && $0.ballots == viewerCount && $0.counts == expected } ?? false }
        }
        #expect(converged, "last tally: \(String(describing: lastTally.withLock { $0 }))")

        // The host's view over REST agrees.
        let (status, room) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/room", bearer: hostToken)
        #expect(status == 200)
        let polls = try #require(room?["polls"] as? [[String: Any]])
        let poll = try #require(polls.first { $0["pollID"] as? String == pollID })
        let results = try #require(poll["results"] as? [String: Any])
        #expect(results["counts"] as? [Int] == expected)
        #expect(results["ballots"] as? Int == viewerCount)

        // A second ballot is refused with a code, and the tally does not move.
        let again = try await viewers[0].send(.pollVote(.init(pollID: pollID, choices: [1])))
        guard case .error(let error) = again.message else {
            Issue.record("a second vote was accepted: \(again)")
            return
        }
        #expect(error.code == .alreadyVoted)

        for viewer in viewers { await viewer.close() }
        await host.close()
        await server.stop()
    }

    @Test("a poll revealed in the middle of a vote burst reports exactly the acknowledged votes, before and after a restart")
    func revealDuringBurst() async throws {
        let server = try await TestServer.start(httpLimits: .crowd)
        _ = try server.createChannel("show")
        let hostToken = try await token(server, channel: "show", sub: "host-1", role: .host)
        var hostConfiguration = InteractionClient.Configuration()
        hostConfiguration.clockSync = nil
        let host = try await InteractionClient.connect(url: url(server, "show"), token: hostToken, configuration: hostConfiguration)
        let created = try await host.perform(.pollCreate(.init(question: "Left or right?", options: ["left", "right"])))
        let pollID = try #require(created.ref)
        try await host.perform(.pollLaunch(.init(pollID: pollID)))

        var viewers: [InteractionClient] = []
        for index in 0..<300 {
            let viewerToken = try await token(server, channel: "show", sub: "voter-\(index)", role: .viewer)
            viewers.append(try await InteractionClient.connect(url: url(server, "show"), token: viewerToken,
                                                               configuration: viewerConfiguration(transport: .webSocketClient) { _ in }))
        }
        // Every viewer votes while the host reveals part-way through: some votes land before the close, the rest
        // are refused with poll_closed; none is acknowledged and then missing from the results.
        let (replies, revealed) = try await withThrowingTaskGroup(of: (Int, ServerEnvelope?).self) { group in
            for (index, viewer) in viewers.enumerated() {
                group.addTask {
                    if index >= 100 { try await Task.sleep(for: .microseconds(index * 20)) }
                    return (index, try await viewer.send(.pollVote(.init(pollID: pollID, choices: [index % 2]))))
                }
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(3))
                _ = try await host.perform(.pollReveal(.init(pollID: pollID)))
                return (-1, nil)
            }
            var replies: [(Int, ServerEnvelope)] = []
            var revealed = false
            for try await (index, reply) in group {
                if let reply { replies.append((index, reply)) } else { revealed = true }
            }
            return (replies, revealed)
        }
        #expect(revealed)
        var acked = [0, 0]
        for (index, reply) in replies {
            switch reply.message {
            case .ack: acked[index % 2] += 1
            case .error(let error): #expect(error.code == .pollClosed, "\(error)")
            default: Issue.record("unexpected reply \(reply)")
            }
        }
        func results(_ server: TestServer) async throws -> [Int]? {
            let (_, room) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/room", bearer: hostToken)
            let polls = try #require(room?["polls"] as? [[String: Any]])
            let poll = polls.first { $0["pollID"] as? String == pollID }
            #expect(poll?["phase"] as? String == "revealed")
            return (poll?["results"] as? [String: Any])?["counts"] as? [Int]
        }
        #expect(try await results(server) == acked, "acknowledged \(acked)")
        for viewer in viewers { await viewer.close() }
        await host.close()
        await server.stop(keepingData: true)

        let restarted = try await TestServer.start(dataDirectory: server.dataDirectory, httpLimits: .crowd)
        #expect(try await results(restarted) == acked, "after the restart; acknowledged \(acked)")
        await restarted.stop()
    }

    @Test("two rooms never see each other's messages")
    func roomsAreIsolated() async throws {
        let server = try await TestServer.start(httpLimits: .crowd)
        _ = try server.createChannel("red")
        _ = try server.createChannel("blue")
        var clients: [String: InteractionClient] = [:]
        let seen = Mutex<[String: [ServerEnvelope]]>([:])
        for channel in ["red", "blue"] {
            for role in [Role.host, .viewer] {
                let name = "\(channel)-\(role.rawValue)"
                var configuration = InteractionClient.Configuration()
                configuration.clockSync = nil
                configuration.onEnvelope = { envelope in seen.withLock { $0[name, default: []].append(envelope) } }
                let token = try await token(server, channel: channel, sub: name, role: role)
                clients[name] = try await InteractionClient.connect(url: url(server, channel), token: token, configuration: configuration)
            }
        }
        // A token for one channel does not open another.
        let redToken = try await token(server, channel: "red", sub: "intruder", role: .viewer)
        await #expect(throws: InteractionClientError.self) {
            try await InteractionClient.connect(url: url(server, "blue"), token: redToken)
        }

        for channel in ["red", "blue"] {
            let host = try #require(clients["\(channel)-host"])
            let viewer = try #require(clients["\(channel)-viewer"])
            try await host.perform(.chatSend(.init(text: "\(channel) host says hi")))
            try await viewer.perform(.chatSend(.init(text: "\(channel) viewer says hi")))
            let poll = try await host.perform(.pollCreate(.init(question: "\(channel)?", options: ["yes", "no"])))
            try await host.perform(.pollLaunch(.init(pollID: try #require(poll.ref))))
            try viewer.post(.reaction(.init(emoji: "👍")))
        }
        // Let a few ticks pass so tallies, reactions and viewer counts go out too.
        try await Task.sleep(for: .milliseconds(500))

        func texts(_ name: String) -> [String] {
            seen.withLock { $0[name] ?? [] }.compactMap { if case .chat(let message) = $0.message { message.text } else { nil } }
        }
        func questions(_ name: String) -> [String] {
            seen.withLock { $0[name] ?? [] }.compactMap { if case .poll(let poll) = $0.message { poll.question } else { nil } }
        }
        for channel in ["red", "blue"] {
            let other = channel == "red" ? "blue" : "red"
            for role in ["host", "viewer"] {
                let name = "\(channel)-\(role)"
                #expect(texts(name).contains("\(channel) host says hi"), "\(name)")
                #expect(texts(name).contains("\(channel) viewer says hi"), "\(name)")
                #expect(!texts(name).contains { $0.hasPrefix(other) }, "\(name) saw \(other)'s chat")
                #expect(questions(name).allSatisfy { $0 == "\(channel)?" } && !questions(name).isEmpty, "\(name) polls")
            }
            let hostTallies = seen.withLock { $0["\(channel)-host"] ?? [] }.compactMap {
                if case .tally(let tally) = $0.message { tally.pollID } else { nil }
            }
            let hostPolls = Set(seen.withLock { $0["\(channel)-host"] ?? [] }.compactMap {
                if case .poll(let poll) = $0.message { poll.pollID } else { nil }
            })
            #expect(!hostTallies.isEmpty && hostTallies.allSatisfy { hostPolls.contains($0) }, "\(channel) tallies")
        }
        for client in clients.values { await client.close() }
        await server.stop()
    }

    @Test("a viewer reconnecting with lastSeq gets exactly the broadcasts it missed, in order")
    func reconnectResumes() async throws {
        let server = try await TestServer.start(httpLimits: .crowd)
        _ = try server.createChannel("show")
        let hostToken = try await token(server, channel: "show", sub: "host", role: .host)
        let viewerToken = try await token(server, channel: "show", sub: "viewer", role: .viewer)
        var configuration = InteractionClient.Configuration()
        configuration.clockSync = nil
        configuration.ignoredKinds = [.viewers]
        let host = try await InteractionClient.connect(url: url(server, "show"), token: hostToken, configuration: configuration)
        let first = try await InteractionClient.connect(url: url(server, "show"), token: viewerToken, configuration: configuration)
        #expect(first.hello?.recovered == false)
        try await host.perform(.chatSend(.init(text: "before")))
        #expect(await eventually { first.lastSeq ?? 0 > first.hello?.currentSeq ?? 0 })
        let resumeFrom = try #require(first.lastSeq)
        await first.close()

        let missed = ["one", "two", "three"]
        for text in missed { try await host.perform(.chatSend(.init(text: text))) }

        let second = try await InteractionClient.connect(url: url(server, "show"), token: viewerToken, lastSeq: resumeFrom,
                                                         configuration: configuration)
        #expect(second.hello?.recovered == true)
        #expect(second.hello?.snapshot == nil)
        var received: [(UInt64, String)] = []
        for await envelope in second.envelopes {
            if case .chat(let message) = envelope.message, let seq = envelope.seq { received.append((seq, message.text)) }
            if received.count == missed.count { break }
        }
        #expect(received.map(\.1) == missed)
        #expect(received.allSatisfy { $0.0 > resumeFrom })
        #expect(received.map(\.0) == received.map(\.0).sorted())
        #expect(second.lastSeq == received.last?.0)

        // Too far back for the bounded history (or from another epoch): a fresh snapshot instead.
        let third = try await InteractionClient.connect(url: url(server, "show"), token: viewerToken, lastSeq: 1,
                                                        configuration: configuration)
        #expect(third.hello?.recovered == false)
        #expect(third.hello?.snapshot?.chat.map(\.text).suffix(4) == ["before"] + missed)

        await second.close()
        await third.close()
        await host.close()
        await server.stop()
    }

    @Test("after the server drops it, the client reconnects with backoff and resumes from lastSeq", arguments: [
        InteractionClient.Configuration.Transport.webSocketClient, .posix(localAddress: nil),
    ])
    func automaticReconnect(transport: InteractionClient.Configuration.Transport) async throws {
        let server = try await TestServer.start(httpLimits: .crowd)
        _ = try server.createChannel("show")
        let hostToken = try await token(server, channel: "show", sub: "host", role: .host)
        let viewerToken = try await token(server, channel: "show", sub: "viewer", role: .viewer)
        var configuration = InteractionClient.Configuration()
        configuration.clockSync = nil
        configuration.ignoredKinds = [.viewers]
        let host = try await InteractionClient.connect(url: url(server, "show"), token: hostToken, configuration: configuration)
        configuration.transport = transport
        configuration.reconnect = .init(initialDelay: .milliseconds(20), maximumDelay: .milliseconds(200))
        // WSClient sometimes drops the refusal frame that follows the 101 at once; a short timeout bounds that attempt.
        configuration.connectTimeout = .seconds(1)
        let viewer = try await InteractionClient.connect(url: url(server, "show"), token: viewerToken, configuration: configuration)

        // A ban closes the viewer's socket at once, and refuses its reconnect attempts until the unban.
        try await host.perform(.modBan(.init(sub: "viewer")))
        #expect(await eventually { !viewer.isConnected })
        let missed = ["while", "you", "were", "away"]
        for text in missed { try await host.perform(.chatSend(.init(text: text))) }
        try await Task.sleep(for: .milliseconds(300))
        #expect(!viewer.isConnected)
        try await host.perform(.modUnban(.init(sub: "viewer")))

        #expect(await eventually { viewer.isConnected }, "reconnected after the unban")
        #expect(viewer.hello?.recovered == true)
        var texts: [String] = []
        for await envelope in viewer.envelopes {
            if case .chat(let message) = envelope.message { texts.append(message.text) }
            if texts.count == missed.count { break }
        }
        #expect(texts == missed)
        #expect(try await viewer.perform(.chatSend(.init(text: "back"))).ref != nil)

        await viewer.close()
        await host.close()
        await server.stop()
    }

    @Test("clock sync on loopback finds the (zero) offset within a few milliseconds")
    func clockSync() async throws {
        let server = try await TestServer.start(httpLimits: .crowd)
        _ = try server.createChannel("show")
        let viewerToken = try await token(server, channel: "show", sub: "viewer", role: .viewer)
        var configuration = InteractionClient.Configuration()
        configuration.clockSync = .init(samples: 5, interval: .seconds(60))
        let client = try await InteractionClient.connect(url: url(server, "show"), token: viewerToken, configuration: configuration)
        // The automatic round runs right after connect.
        #expect(await eventually { client.clockSample != nil })
        let sample = try #require(try await client.synchronizeClock(samples: 8))
        // Same machine, same clock: the true offset is 0; the server stamps whole milliseconds.
        #expect(abs(sample.offset) < 0.003, "offset \(sample.offset * 1000) ms")
        #expect(sample.roundTrip < 0.05, "round trip \(sample.roundTrip * 1000) ms")
        let offset = try #require(client.clockOffset)
        let uncertainty = try #require(client.clockUncertainty)
        #expect(offset < .milliseconds(3) && offset > .milliseconds(-3))
        #expect(uncertainty == .seconds(sample.uncertainty))
        let skew = abs(client.serverDate().timeIntervalSinceNow)
        #expect(skew < 0.003)
        await client.close()
        await server.stop()
    }

    @Test("errors come back as error frames with codes; a bad token is refused at the upgrade")
    func errorsAndRefusals() async throws {
        let server = try await TestServer.start(httpLimits: .crowd)
        _ = try server.createChannel("show")
        let viewerToken = try await token(server, channel: "show", sub: "viewer", role: .viewer)
        var configuration = InteractionClient.Configuration()
        configuration.clockSync = nil
        let viewer = try await InteractionClient.connect(url: url(server, "show"), token: viewerToken, configuration: configuration)
        let reply = try await viewer.send(.pollVote(.init(pollID: "nope", choices: [0])))
        if case .error(let error) = reply.message {
            #expect(error.code == .notFound)
        } else {
            Issue.record("expected an error, got \(reply)")
        }
        await #expect(throws: InteractionClientError.self) {
            try await viewer.perform(.pollCreate(.init(question: "mine?", options: ["a", "b"])))
        }
        // The connection stays usable after errors.
        let pong = try await viewer.send(.ping(.init(clientTime: Timestamp(Date()))))
        if case .pong(let body) = pong.message { #expect(body.clientTime != nil) } else { Issue.record("expected pong") }

        await #expect(throws: InteractionClientError.upgradeRefused(status: nil)) {
            try await InteractionClient.connect(url: url(server, "show"), token: "not-a-token", configuration: configuration)
        }
        await #expect(throws: InteractionClientError.upgradeRefused(status: nil)) {
            try await InteractionClient.connect(url: url(server, "nowhere"), token: viewerToken, configuration: configuration)
        }
        await viewer.close()
        #expect(!viewer.isConnected)
        await #expect(throws: InteractionClientError.notConnected) {
            try await viewer.send(.ping(.init()))
        }
        await server.stop()
    }
}

@Suite("connection limit")
struct ConnectionLimitTests {
    @Test("WebSocket clients beyond the server's connection limit are refused, and a freed slot is reusable")
    func limit() async throws {
        let server = try await TestServer.start(maxWebSocketConnections: 2)
        defer { Task { await server.stop() } }
        _ = try server.createChannel("show")
        // Guests join here (new channels refuse them unless their settings allow it).
        try server.store.saveChannelSettings(channel: "show", body: Data(#"{"allowAnonymous":true}"#.utf8), allowAnonymous: true)
        let url = InteractionClient.url(server: "http://127.0.0.1:\(server.httpPort)", channel: "show")
        var configuration = InteractionClient.Configuration()
        configuration.reconnect = nil
        configuration.connectTimeout = .seconds(3)
        let first = try await InteractionClient.connect(url: url, token: nil, configuration: configuration)
        let second = try await InteractionClient.connect(url: url, token: nil, configuration: configuration)
        await #expect(throws: (any Error).self) {
            let third = try await InteractionClient.connect(url: url, token: nil, configuration: configuration)
            await third.close()
        }
        await first.close()
        #expect(await eventually(timeout: .seconds(5)) {
            guard let again = try? await InteractionClient.connect(url: url, token: nil, configuration: configuration) else { return false }
            await again.close()
            return true
        })
        await second.close()
    }
}
