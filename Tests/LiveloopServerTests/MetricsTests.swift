import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import NIOHTTP1
import Storage
import Testing

/// `/metrics` of a real server after real traffic: valid for promtool, and its numbers follow what the clients did.
@Suite("metrics", .serialized)
struct MetricsTests {
    static var havePromtool: Bool { Tools.path("promtool") != nil }

    /// What `Traffic.run` did, and the clients it left open.
    struct Traffic {
        var host: InteractionClient
        var viewers: [InteractionClient]
        var votes: Int
        var chats: Int
        var pings: Int

        var openSockets: Int { viewers.count + 1 }

        func close() async {
            for viewer in viewers { await viewer.close() }
            await host.close()
        }

        static func token(_ server: TestServer, sub: String, role: Role) async throws -> String {
            try await server.server.tokens.mint(
                LiveloopClaims(sub: sub, name: sub, role: role, channel: "show", expires: Date().addingTimeInterval(3600)))
        }

        /// On channel `show`: a host and `viewerCount` viewers connect, the host runs a poll, every viewer votes once
        /// and sends a ping, and every third viewer chats. On `demo`: one LL-HLS playlist fetch.
        static func run(on server: TestServer, viewerCount: Int) async throws -> Traffic {
            _ = try server.createChannel("show")
            let url = InteractionClient.url(server: "http://127.0.0.1:\(server.httpPort)", channel: "show")
            var configuration = InteractionClient.Configuration()
            configuration.clockSync = nil
            configuration.reconnect = nil
            configuration.ignoredKinds = [.viewers]
            configuration.envelopeBufferLimit = 0
            let host = try await InteractionClient.connect(url: url, token: try await token(server, sub: "host", role: .host),
                                                           configuration: configuration)
            let pollID = try #require(try await host.perform(.pollCreate(.init(question: "Tea or coffee?", options: ["tea", "coffee"]))).ref)
            try await host.perform(.pollLaunch(.init(pollID: pollID)))
            var viewers: [InteractionClient] = []
            for index in 0..<viewerCount {
                let token = try await token(server, sub: "viewer-\(index)", role: .viewer)
                viewers.append(try await InteractionClient.connect(url: url, token: token, configuration: configuration))
            }
            var votes = 0
            var chats = 0
            for (index, viewer) in viewers.enumerated() {
                let reply = try await viewer.send(.pollVote(.init(pollID: pollID, choices: [index % 2])))
                if case .ack = reply.message { votes += 1 }
                _ = try await viewer.send(.ping(.init(clientTime: Timestamp(Date()))))
                if index.isMultiple(of: 3) {
                    let chat = try await viewer.send(.chatSend(.init(text: "hello from \(index)")))
                    if case .ack = chat.message { chats += 1 }
                }
            }
            #expect(await eventually { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })
            return Traffic(host: host, viewers: viewers, votes: votes, chats: chats, pings: viewerCount)
        }
    }

    @Test("after viewers connect, vote and chat, /metrics passes promtool check metrics and its numbers moved with the traffic",
          .enabled(if: havePromtool, "needs promtool (Debian's prometheus package)"))
    func promtoolAndValues() async throws {
        let server = try await TestServer.start(demo: true, httpLimits: .crowd)
        let traffic = try await Traffic.run(on: server, viewerCount: 12)
        #expect(traffic.votes == 12, "every vote was acknowledged")
        let (text, metrics) = try await Exposition.scrape(server)

        let file = NSTemporaryDirectory() + "liveloop-metrics-\(UUID().uuidString).txt"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (status, out, err) = try await Tools.output("sh", ["-c", "promtool check metrics < \"$0\"", file])
        #expect(status == 0, "promtool: \(out)\(err)")

        // The interaction layer: what the clients did, counted.
        #expect(metrics.value("liveloop_interaction_connections", [("channel", "show")]) == Double(traffic.openSockets),
                "one per open socket: the host and the viewers")
        #expect((metrics.value("liveloop_websocket_connections") ?? 0) >= Double(traffic.openSockets))
        #expect((metrics.value("liveloop_interaction_rooms") ?? 0) >= 1)
        #expect((metrics.value("liveloop_interaction_votes_total") ?? 0) >= Double(traffic.votes))
        #expect(metrics.value("liveloop_interaction_messages_received_total", [("type", "poll.vote")]) == Double(traffic.votes))
        #expect(metrics.value("liveloop_interaction_messages_received_total", [("type", "chat.send")]) == Double(traffic.chats))
        #expect(metrics.value("liveloop_interaction_messages_received_total", [("type", "ping")]) == Double(traffic.pings))
        #expect(metrics.value("liveloop_interaction_messages_received_total", [("type", "poll.create")]) == 1)
        #expect(metrics.value("liveloop_interaction_messages_received_total", [("type", "quiz.answer")]) == 0)
        // Votes, chats and the poll's records were committed: each commit is one observation, all within a second.
        let commits = metrics.value("liveloop_interaction_commit_seconds_count") ?? 0
        #expect(commits >= 3)
        #expect(metrics.value("liveloop_interaction_commit_seconds_bucket", [("le", "1.0")]) == commits)
        #expect((metrics.value("liveloop_interaction_commit_seconds_sum") ?? 0) > 0)
        #expect(metrics.value("liveloop_interaction_commit_failures_total") == 0)
        #expect(metrics.value("liveloop_interaction_slow_consumers_dropped_total") == 0)

        // Video: the demo broadcast, its HLS viewer and the bytes sent.
        #expect((metrics.value("liveloop_broadcasts_live") ?? 0) >= 1)
        #expect(metrics.value("liveloop_publishers", [("channel", "demo")]) == 1)
        #expect((metrics.value("liveloop_viewers", [("channel", "demo")]) ?? 0) >= 1)
        #expect(metrics.value("liveloop_video_socket_viewers", [("channel", "demo")]) == 0)
        #expect((metrics.value("liveloop_http_media_bytes_out_total") ?? 0) > 0)

        // Sockets that close leave the gauge.
        for viewer in traffic.viewers.prefix(5) { await viewer.close() }
        let dropped = await eventually {
            let now = try? await Exposition.scrape(server).exposition
            return now?.value("liveloop_interaction_connections", [("channel", "show")]) == Double(traffic.openSockets - 5)
        }
        #expect(dropped, "the connections gauge follows closed sockets")
        await traffic.close()
        await server.stop()
    }

    /// A masked client text frame (RFC 6455 §5.3), for a raw socket.
    static func maskedText(_ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        return [0x81, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }

    @Test("a guest that reads nothing while chat floods the room is dropped from fan-out, counted, and leaves the connections gauge")
    func slowConsumerDropped() async throws {
        var limits = HTTPLimits.crowd
        limits.sendBufferBytes = 4096
        // The room's queue overflows a few seconds into the flood; the socket guard closes the socket 10 s after it stopped reading.
        limits.slowConsumerTimeout = .seconds(10)
        let server = try await TestServer.start(httpLimits: limits)
        _ = try server.createChannel("show")
        let adminKey = try #require(try server.store.ensureAdminKey())
        let (saved, _) = try await httpRequest(port: server.httpPort, .PUT, "/api/v1/channels/show/settings", bearer: adminKey,
                                               body: #"{"rateLimits":null,"allowAnonymous":true}"#)
        #expect(saved == 200)

        // The slow guest: upgrades, says one thing, then never reads (a 4 KiB receive buffer, no reads).
        var head = "GET /api/v1/channels/show/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        head += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        let slow = try await TCPCrowd.connect(count: 1, from: "127.0.0.4", to: server.httpPort, sending: Array(head.utf8), receiveBuffer: 4096)
        try await Task.sleep(for: .milliseconds(300))
        await slow.sendAll(Self.maskedText(#"{"v":1,"type":"ping","id":"p"}"#))
        #expect(await eventually { server.server.rooms.connectionsPerRoom["show"] == 1 }, "the guest joined")

        // 40 hosts chat 40 messages each at once: every message is a frame for the guest.
        let url = InteractionClient.url(server: "http://127.0.0.1:\(server.httpPort)", channel: "show")
        var configuration = InteractionClient.Configuration()
        configuration.clockSync = nil
        configuration.reconnect = nil
        configuration.envelopeBufferLimit = 0
        configuration.requestTimeout = .seconds(60)
        var hosts: [InteractionClient] = []
        for _ in 0..<40 { hosts.append(try await InteractionClient.connect(url: url, token: adminKey, configuration: configuration)) }
        let text = String(repeating: "flood ", count: 60)
        await withTaskGroup(of: Void.self) { group in
            for host in hosts {
                group.addTask {
                    for _ in 0..<40 { _ = try? await host.send(.chatSend(.init(text: text))) }
                }
            }
        }
        let dropped = await eventually(timeout: .seconds(20)) {
            let metrics = try? await Exposition.scrape(server).exposition
            return (metrics?.value("liveloop_interaction_slow_consumers_dropped_total") ?? 0) >= 1
        }
        #expect(dropped, "the guest's queue overflowed and it was dropped from fan-out")
        let metrics = try await Exposition.scrape(server).exposition
        #expect(metrics.value("liveloop_interaction_slow_consumers_dropped_total") == 1, "only the guest was too slow")
        #expect(metrics.value("liveloop_interaction_messages_received_total", [("type", "chat.send")]) == 1600)
        // Its socket, stuck on a full send buffer, goes at the slow-client timeout; the hosts stay.
        let gone = await eventually(timeout: .seconds(30)) {
            let metrics = try? await Exposition.scrape(server).exposition
            return metrics?.value("liveloop_interaction_connections", [("channel", "show")]) == Double(hosts.count)
        }
        #expect(gone, "the connections gauge loses the dropped guest and keeps the 40 hosts")
        for host in hosts { await host.close() }
        await slow.close()
        await server.stop()
    }
}
