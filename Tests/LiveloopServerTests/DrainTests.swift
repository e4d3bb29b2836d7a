import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import Storage
import Synchronization
import Testing

/// A graceful shutdown (SIGTERM) moves the audience to another node before their sockets close.
@Suite("drain on shutdown", .serialized)
struct DrainTests {
    final class Moments: Sendable {
        let goaway = Mutex<(at: ContinuousClock.Instant, notice: ServerMessage.GoAway)?>(nil)
    }

    @Test("on shutdown every interaction client gets goaway and reconnects through its one address to another node before its socket closes")
    func goAwayMovesClients() async throws {
        let drain = Duration.seconds(2)
        let leaving = try await TestServer.start(drain: drain)
        let staying = try await TestServer.start()
        defer { Task { await staying.stop() } }
        for server in [leaving, staying] {
            _ = try server.createChannel("show")
            try server.store.saveChannelSettings(channel: "show", body: Data(#"{"allowAnonymous":true}"#.utf8), allowAnonymous: true)
        }
        let balancer = try await TCPForwarder(backend: leaving.httpPort)
        defer { Task { await balancer.close() } }

        let moments = Moments()
        var configuration = InteractionClient.Configuration()
        configuration.reconnect = .init(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(200))
        configuration.clockSync = nil
        configuration.onEnvelope = { envelope in
            if case .goaway(let notice) = envelope.message { moments.goaway.withLock { $0 = (.now, notice) } }
        }
        let settings = configuration
        let clients = try await withThrowingTaskGroup(of: InteractionClient.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await InteractionClient.connect(url: InteractionClient.url(server: "http://127.0.0.1:\(balancer.port)", channel: "show"),
                                                        token: nil, configuration: settings)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        defer { Task { for client in clients { await client.close() } } }
        #expect(leaving.server.httpConnections.total == 20)

        balancer.point(to: staying.httpPort)
        let shutdown = ContinuousClock.now
        let stopped = Task { await leaving.stop() }
        #expect(await eventually(timeout: .seconds(3)) { moments.goaway.withLock { $0 } != nil }, "goaway arrives")
        let notice = try #require(moments.goaway.withLock { $0 })
        #expect(notice.notice.reconnectWithinMs == 2000)
        #expect(notice.at - shutdown < .milliseconds(500), "goaway goes out as soon as the shutdown begins")

        // Every client is on the other node, and got there while the old node was still draining.
        let moved = await eventually(timeout: .seconds(5)) {
            staying.server.httpConnections.total == 20 && clients.allSatisfy(\.isConnected)
        }
        #expect(moved, "\(staying.server.httpConnections.total) of 20 clients on the other node")
        #expect(ContinuousClock.now - shutdown < drain + .milliseconds(500))
        for client in clients { #expect(client.identity?.role == .guest) }
        await stopped.value
        #expect(ContinuousClock.now - shutdown >= drain, "the old node waited out its drain window")
    }
}
