import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import Storage
import Synchronization
import Testing

extension AttackTests {
    /// Tenant A fills its viewer quota, floods upgrades far past it and has every viewer vote as fast as the rate limits
    /// let it; tenant B's viewers meanwhile connect, vote and see their tally as on a quiet server. Without the tenant
    /// quota A's flood would take every WebSocket slot of the server (B's viewers would get 503 server_full).
    @Test("one tenant's flood of connections and votes does not take another tenant's room below its service")
    func tenantFlood() async throws {
        let quota = 30
        let server = try await TestServer.start(maxWebSocketConnections: 100, httpLimits: .crowd)
        defer { Task { await server.stop() } }
        let (a, _, _) = try server.store.createTenant(name: "tenant-a", quotas: TenantQuotas(maxViewers: quota))
        let (b, _, _) = try server.store.createTenant(name: "tenant-b", quotas: TenantQuotas(maxViewers: quota))
        _ = try server.store.createChannel(name: "a-show", tenant: a.id)
        _ = try server.store.createChannel(name: "b-show", tenant: b.id)
        func token(_ channel: String, _ sub: String, _ role: Role = .viewer) async throws -> String {
            try await TenantQuotaTests.viewerToken(server, channel, sub, role: role)
        }

        // A: a host with a live poll, and viewers up to its quota.
        let aHost = try await TenantQuotaTests.connect(server, "a-show", try await token("a-show", "a-host", .host))
        let aPoll = try #require(try await aHost.perform(.pollCreate(.init(question: "A?", options: ["x", "y"]))).ref)
        try await aHost.perform(.pollLaunch(.init(pollID: aPoll)))
        var aViewers: [InteractionClient] = []
        for index in 0..<quota {
            aViewers.append(try await TenantQuotaTests.connect(server, "a-show", try await token("a-show", "a-\(index)")))
        }

        // A floods: 150 more upgrades (each refused at its quota) and every viewer voting in a loop.
        let flooding = FloodSwitch()
        let floodClients = aViewers
        let voters = Task {
            await withTaskGroup(of: Void.self) { group in
                for viewer in floodClients {
                    for _ in 0..<2 {
                        group.addTask {
                            while flooding.isOn {
                                guard (try? await viewer.send(.pollVote(.init(pollID: aPoll, choices: [0])))) != nil else { return }
                                flooding.replied()
                            }
                        }
                    }
                }
            }
        }
        let floodToken = try await token("a-show", "a-flood")
        var head = "GET /api/v1/channels/a-show/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        head += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer \(floodToken)\r\n\r\n"
        let crowd = try await TCPCrowd.connect(count: 150, from: "127.0.0.2", to: server.httpPort, sending: Array(head.utf8))

        // B, during the flood: a host, a poll, 20 viewers who connect and vote; each step timed.
        let bTally = Mutex<ServerMessage.TallyView?>(nil)
        var hostConfiguration = InteractionClient.Configuration()
        hostConfiguration.reconnect = nil
        hostConfiguration.clockSync = nil
        hostConfiguration.onEnvelope = { envelope in
            if case .tally(let tally) = envelope.message { bTally.withLock { $0 = tally } }
        }
        let bHost = try await InteractionClient.connect(
            url: InteractionClient.url(server: "http://127.0.0.1:\(server.httpPort)", channel: "b-show"),
            token: try await token("b-show", "b-host", .host), configuration: hostConfiguration)
        let bPoll = try #require(try await bHost.perform(.pollCreate(.init(question: "B?", options: ["p", "q"]))).ref)
        try await bHost.perform(.pollLaunch(.init(pollID: bPoll)))
        let clock = ContinuousClock()
        var bViewers: [InteractionClient] = []
        var slowestConnect = Duration.zero
        for index in 0..<20 {
            let bToken = try await token("b-show", "b-\(index)")
            let started = clock.now
            bViewers.append(try await TenantQuotaTests.connect(server, "b-show", bToken))
            slowestConnect = max(slowestConnect, clock.now - started)
        }
        var slowestAck = Duration.zero
        for (index, viewer) in bViewers.enumerated() {
            let started = clock.now
            let reply = try await viewer.send(.pollVote(.init(pollID: bPoll, choices: [index % 2])))
            slowestAck = max(slowestAck, clock.now - started)
            guard case .ack = reply.message else {
                Issue.record("B's vote was refused: \(reply)")
                continue
            }
        }
        let lastAck = clock.now
        let tallied = await eventually(timeout: .seconds(3)) {
            bTally.withLock { $0.map { $0.pollID == bPoll && $0.ballots == 20 && $0.counts == [10, 10] } ?? false }
        }
        let tallyDelay = clock.now - lastAck

        // What A got: its quota and no more, and its votes answered (as errors after the first) all along.
        #expect(await eventually(timeout: .seconds(10)) { crowd.count(status: 429) == 150 }, "every upgrade past A's quota is refused")
        #expect(crowd.snapshot.allSatisfy { $0.body.contains(#""code":"tenant_quota""#) })
        #expect(flooding.replies > quota * 5, "A's viewers kept flooding (\(flooding.replies) replies)")
        flooding.stop()
        await voters.value

        #expect(tallied, "B's host saw its tally of 20 ballots within 3 s of the last ack (\(tallyDelay))")
        #expect(slowestConnect < .seconds(3), "B's slowest viewer connected in \(slowestConnect)")
        #expect(slowestAck < .seconds(2), "B's slowest vote was acknowledged in \(slowestAck)")
        #expect(bViewers.allSatisfy(\.isConnected) && bHost.isConnected)

        await crowd.close()
        for viewer in aViewers + bViewers { await viewer.close() }
        await aHost.close()
        await bHost.close()
    }
}

/// Whether the flood goes on, and how many replies its voters got.
private final class FloodSwitch: Sendable {
    private let on = Atomic<Bool>(true)
    private let count = Atomic<Int>(0)
    var isOn: Bool { on.load(ordering: .relaxed) }
    var replies: Int { count.load(ordering: .relaxed) }
    func replied() { count.add(1, ordering: .relaxed) }
    func stop() { on.store(false, ordering: .relaxed) }
}
