import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import NIOCore
import Testing

/// Attacks on the HTTP port: connections held for free, heads too large or too slow, refused upgrades, WebSocket
/// framing errors, clients that never read.
extension AttackTests {
    static var limits: HTTPLimits {
        var limits = HTTPLimits()
        limits.maxConnectionsPerAddress = 64
        limits.headerReadTimeout = .seconds(2)
        limits.slowConsumerTimeout = .seconds(2)
        limits.webSocketFirstMessageTimeout = .seconds(2)
        return limits
    }

    static var haveFFmpegAndPython: Bool {
        Tools.haveFFmpeg && (try? Tools.blockingOutput("python3", ["-c", "import sys"]).0) == 0
    }

    @Test("1,000 idle sockets from one address: the address gets its cap and 429s, everyone else is served at once, the idle ones time out",
          .enabled(if: Tools.haveFFmpeg))
    func idleSocketFlood() async throws {
        // A header timeout long enough that none of the 64 admitted sockets times out while the other 936 connect.
        var limits = Self.limits
        limits.headerReadTimeout = .seconds(8)
        let server = try await TestServer.start(httpLimits: limits)
        defer { Task { await server.stop() } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }

        let crowd = try await TCPCrowd.connect(count: 1000, from: "127.0.0.2", to: server.httpPort)
        #expect(await eventually(timeout: .seconds(5)) { crowd.count(status: 429) == 1000 - 64 },
                "every connection past the per-address cap is refused with 429 (got \(crowd.count(status: 429)))")
        let refused = try #require(crowd.snapshot.first { $0.statusCode == 429 })
        #expect(refused.body.contains(#""code":"too_many_connections""#))
        #expect(server.server.httpConnections.count(for: "127.0.0.2") == 64)

        // While the attacker holds its 64: health, a new viewer and a new publisher are served at once.
        let started = ContinuousClock.now
        #expect(try await server.get("/healthz").status == 200)
        #expect(ContinuousClock.now - started < .milliseconds(500))
        let key = try server.createChannel("fresh")
        let publisher = try Tools.publish(to: server.rtmpURL(key: key), frames: 150)
        defer { publisher.terminate() }
        #expect(await eventually { (try? await server.get("/live/fresh/media.m3u8"))?.status == 200 })
        try await bystanders.expectUnaffected("while 64 idle sockets are held")

        // The ones admitted said nothing: each is answered 408 at the header timeout and closed.
        #expect(await eventually(timeout: .seconds(12)) { crowd.closedCount == 1000 }, "every idle socket is closed")
        #expect(crowd.count(status: 408) == 64)
        #expect(server.server.httpConnections.count(for: "127.0.0.2") == 0)
        await crowd.close()
        // An operator sees the flood on /metrics.
        let metrics = String(buffer: try await server.get("/metrics").body)
        #expect(metrics.contains(#"liveloop_http_refused_total{reason="too_many_connections"} 936"#))
        #expect(metrics.contains(#"liveloop_http_refused_total{reason="request_timeout"} 64"#))
        try await bystanders.expectUnaffected("after the flood")
    }

    @Test("a request head trickled a byte at a time is closed at the header timeout with 408", .enabled(if: Tools.haveFFmpeg))
    func trickledHead() async throws {
        let server = try await TestServer.start(httpLimits: Self.limits)
        defer { Task { await server.stop() } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }
        let crowd = try await TCPCrowd.connect(count: 50, from: "127.0.0.2", to: server.httpPort, sending: Array("GET /hea".utf8))
        let started = ContinuousClock.now
        for byte in "dz HTTP/1.1\r\nHost: x\r\nX-Slow: yes".utf8 where crowd.closedCount < 50 {
            await crowd.sendAll([byte])
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(await eventually(timeout: .seconds(5)) { crowd.closedCount == 50 })
        #expect(ContinuousClock.now - started < .seconds(6), "progress by the byte does not extend the deadline")
        #expect(crowd.count(status: 408) == 50)
        #expect(crowd.snapshot.first?.body.contains(#""code":"request_timeout""#) == true)
        try await bystanders.expectUnaffected()
    }

    @Test("a kept-alive connection that sends nothing after its response is closed at the idle timeout")
    func idleKeepAlive() async throws {
        var limits = Self.limits
        limits.idleTimeout = .seconds(1)
        let server = try await TestServer.start(httpLimits: limits)
        defer { Task { await server.stop() } }
        let crowd = try await TCPCrowd.connect(count: 10, from: "127.0.0.2", to: server.httpPort,
                                               sending: Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(await eventually(timeout: .seconds(3)) { crowd.count(status: 200) == 10 }, "each request is answered")
        #expect(crowd.closedCount == 0, "the connections are kept alive after their response")
        #expect(await eventually(timeout: .seconds(4)) { crowd.closedCount == 10 }, "and closed once idle for the timeout")
        #expect(server.server.httpConnections.count(for: "127.0.0.2") == 0)
    }

    @Test("a request head over the size cap is answered 431 with a JSON body and closed", .enabled(if: Tools.haveFFmpeg))
    func oversizedHead() async throws {
        let server = try await TestServer.start(httpLimits: Self.limits)
        defer { Task { await server.stop() } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }
        let head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 40_000) + "\r\n\r\n"
        let crowd = try await TCPCrowd.connect(count: 20, from: "127.0.0.2", to: server.httpPort, sending: Array(head.utf8))
        #expect(await eventually(timeout: .seconds(5)) { crowd.closedCount == 20 })
        #expect(crowd.count(status: 431) == 20)
        #expect(crowd.snapshot.first?.body.contains(#""code":"header_too_large""#) == true)
        try await bystanders.expectUnaffected()
    }

    @Test("a request answered before its body arrived (a 401 from the head alone) keeps its body: the next request on the connection is answered, not taken for a 431 head",
          .enabled(if: Tools.haveFFmpeg))
    func earlyAnswerKeepsBody() async throws {
        let server = try await TestServer.start(httpLimits: Self.limits)
        defer { Task { await server.stop() } }
        let body = String(repeating: "x", count: 40_000)
        let head = "POST /cluster/room/demo/link/events?node=a&epoch=0 HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
        let crowd = try await TCPCrowd.connect(count: 1, from: "127.0.0.2", to: server.httpPort, sending: Array(head.utf8))
        defer { Task { await crowd.close() } }
        #expect(await eventually(timeout: .seconds(5)) { crowd.snapshot.first?.statusCode == 401 })
        // The body comes after its answer, then the next request.
        await crowd.sendAll(Array((body + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").utf8))
        #expect(await eventually(timeout: .seconds(5)) { crowd.snapshot.first?.body.contains(#"{"status":"ok"}"#) == true },
                "\(crowd.snapshot.first?.body ?? "")")
        let answers = String(decoding: crowd.snapshot.first?.received ?? [], as: UTF8.self)
        #expect(answers.hasPrefix("HTTP/1.1 401"))
        #expect(!answers.contains("header_too_large"))
    }

    @Test("a server at its connection cap answers new connections 503 server_full", .enabled(if: Tools.haveFFmpeg))
    func totalConnectionCap() async throws {
        var limits = Self.limits
        limits.maxConnections = 40
        limits.maxConnectionsPerAddress = 0
        let server = try await TestServer.start(httpLimits: limits)
        defer { Task { await server.stop() } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }
        let crowd = try await TCPCrowd.connect(count: 60, from: "127.0.0.2", to: server.httpPort)
        #expect(await eventually(timeout: .seconds(5)) { crowd.count(status: 503) >= 21 })
        #expect(crowd.snapshot.first { $0.statusCode == 503 }?.body.contains(#""code":"server_full""#) == true)
        await crowd.close()
        #expect(await eventually { server.server.httpConnections.total <= 1 })
        try await bystanders.expectUnaffected("once the crowd left")
    }

    /// A raw upgrade request; returns (status, JSON error code).
    func upgrade(port: Int, path: String, token: String? = nil) async throws -> (Int?, String?) {
        var head = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        head += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        head += "\r\n"
        let crowd = try await TCPCrowd.connect(count: 1, from: "127.0.0.2", to: port, sending: Array(head.utf8))
        defer { Task { await crowd.close() } }
        _ = await eventually(timeout: .seconds(5)) { crowd.snapshot.first?.statusCode != nil }
        let record = try #require(crowd.snapshot.first)
        let json = try? JSONSerialization.jsonObject(with: Data(record.body.utf8)) as? [String: Any]
        return (record.statusCode, (json?["error"] as? [String: Any])?["code"] as? String)
    }

    @Test("refused WebSocket upgrades answer 401, 403, 404 or 503 with a JSON body, never a bare 400", .enabled(if: Tools.haveFFmpeg))
    func refusedUpgrades() async throws {
        let server = try await TestServer.start(maxWebSocketConnections: 2, httpLimits: Self.limits)
        defer { Task { await server.stop() } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }
        _ = try server.createChannel("other")
        let otherToken = try await server.server.tokens.mint(LiveloopClaims(
            sub: "v", name: "v", role: .viewer, channel: "other", expires: Date().addingTimeInterval(600)))
        let channel = Bystanders.channel
        var (status, code) = try await upgrade(port: server.httpPort, path: "/api/v1/channels/\(channel)/ws", token: "not-a-jwt")
        #expect(status == 401 && code == "unauthorized", "a bad token")
        (status, code) = try await upgrade(port: server.httpPort, path: "/api/v1/channels/\(channel)/ws", token: otherToken)
        #expect(status == 403 && code == "forbidden", "a token of another channel")
        (status, code) = try await upgrade(port: server.httpPort, path: "/api/v1/channels/nope/ws", token: otherToken)
        #expect(status == 404 && code == "not_found", "an unknown channel")
        (status, code) = try await upgrade(port: server.httpPort, path: "/live/nope/ws")
        #expect(status == 404 && code == "not_found", "a video socket for a channel that is not live")

        // The bystander holds one of the two WebSocket slots; a second viewer takes the other.
        let viewerToken = try await server.server.tokens.mint(LiveloopClaims(
            sub: "v2", name: "v2", role: .viewer, channel: channel, expires: Date().addingTimeInterval(600)))
        let second = try await InteractionClient.connect(
            url: InteractionClient.url(server: "http://127.0.0.1:\(server.httpPort)", channel: channel), token: viewerToken)
        defer { Task { await second.close() } }
        (status, code) = try await upgrade(port: server.httpPort, path: "/api/v1/channels/\(channel)/ws", token: viewerToken)
        #expect(status == 503 && code == "server_full", "a full server")
        try await bystanders.expectUnaffected()
    }

    @Test("WebSocket framing errors close with their RFC 6455 codes; a socket that never speaks is closed with 1008",
          .enabled(if: haveFFmpegAndPython))
    func webSocketFraming() async throws {
        let server = try await TestServer.start(httpLimits: Self.limits)
        defer { Task { await server.stop() } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }
        let token = try await server.server.tokens.mint(LiveloopClaims(
            sub: "attacker", name: "a", role: .viewer, channel: Bystanders.channel, expires: Date().addingTimeInterval(600)))
        let (status, out, err) = try await Tools.output("python3", [
            "\(InteractionGatewayTests.pythonDirectory)/ws_framing.py", "127.0.0.1", "\(server.httpPort)",
            "/api/v1/channels/\(Bystanders.channel)/ws?token=\(token)",
            "invalid_utf8", "unmasked", "stray_continuation", "oversized_fragmented", "silent",
        ])
        #expect(status == 0, "python: \(err)")
        let codes = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        #expect(codes["invalid_utf8"] as? Int == 1007)
        #expect(codes["unmasked"] as? Int == 1002)
        #expect(codes["stray_continuation"] as? Int == 1002)
        #expect(codes["oversized_fragmented"] as? Int == 1009)
        #expect(codes["silent"] as? Int == 1008)
        try await bystanders.expectUnaffected()
    }

    /// Resident memory of this process (the test server runs in it), from /proc.
    static func residentBytes() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    @Test("200 video sockets that never read are closed within the slow-client timeout and memory stays bounded",
          .enabled(if: Tools.haveFFmpeg))
    func slowVideoReaders() async throws {
        var limits = Self.limits
        limits.maxConnectionsPerAddress = 0
        limits.sendBufferBytes = 64 * 1024
        let server = try await TestServer.start(httpLimits: limits)
        defer { Task { await server.stop() } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }
        try await Task.sleep(for: .seconds(1))
        let before = Self.residentBytes()
        var head = "GET /live/\(Bystanders.channel)/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        head += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        let crowd = try await TCPCrowd.connect(count: 200, from: "127.0.0.3", to: server.httpPort, sending: Array(head.utf8),
                                               receiveBuffer: 4096)
        defer { Task { await crowd.close() } }
        #expect(await eventually(timeout: .seconds(5)) { server.server.httpConnections.count(for: "127.0.0.3") == 200 })
        var peak = 0
        let closed = await eventually(timeout: .seconds(20)) {
            peak = max(peak, Self.residentBytes())
            return server.server.httpConnections.count(for: "127.0.0.3") == 0
        }
        #expect(closed, "every socket that read nothing is closed (\(server.server.httpConnections.count(for: "127.0.0.3")) left)")
        let growth = max(0, peak - before)
        print("slow video readers: 200 sockets, RSS \(before >> 20) → peak \(peak >> 20) MiB")
        // The bound: what the broadcast queues per subscriber is shared bytes, and what is in flight per socket is the
        // kernel's buffer plus NIO's 64 KiB high-water mark — well under 64 MiB for all 200.
        #expect(growth < 64 << 20, "RSS grew \(growth >> 20) MiB for 200 slow readers")
        try await bystanders.expectUnaffected()
    }
}
