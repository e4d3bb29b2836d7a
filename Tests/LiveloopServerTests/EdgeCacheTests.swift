import Foundation
import LiveloopClient
import LiveloopServer
import NIOCore
import NIOHTTP1
import Storage
import Testing

/// `deploy/nginx-edge.conf` in Debian's nginx in front of a live origin (an ffmpeg RTMP stream): what an edge must do
/// for LL-HLS, each read off the edge's own access log (`cache=MISS` is an origin request) and the bytes viewers get.
@Suite("nginx edge cache (deploy/nginx-edge.conf) in front of LL-HLS", .serialized,
       .enabled(if: NginxEdge.available && Tools.haveFFmpeg, "needs Debian's nginx and ffmpeg"))
struct EdgeCacheTests {
    struct Live {
        var server: TestServer
        var edge: NginxEdge
        var ffmpeg: Process

        func stop() async {
            ffmpeg.terminate()
            await edge.stop()
            await server.stop()
        }
    }

    static func live() async throws -> Live {
        let server = try await TestServer.start()
        let key = try server.createChannel("cam")
        let ffmpeg = try Tools.publish(to: server.rtmpURL(key: key), frames: 30 * 60, preset: "ultrafast", bFrames: 0)
        let edge = try NginxEdge(port: try await ConfigFileTests.freePort(), origin: server.httpPort)
        try await edge.start()
        #expect(await eventually(timeout: .seconds(15)) { (try? await server.get("/live/cam/media.m3u8"))?.status == 200 })
        return Live(server: server, edge: edge, ffmpeg: ffmpeg)
    }

    static func get(_ port: Int, _ path: String) async throws -> HTTPConnection.Response {
        try await HTTPConnection.with(host: "127.0.0.1", port: port) { try await $0.get(path) }
    }

    /// The msn and part index of the playlist's preload hint (`partM.P.m4s`).
    static func preloadHint(_ playlist: String) -> (msn: Int, part: Int, uri: String)? {
        guard let line = playlist.split(separator: "\n").first(where: { $0.hasPrefix("#EXT-X-PRELOAD-HINT:") }),
              let start = line.range(of: "URI=\"")?.upperBound, let end = line[start...].firstIndex(of: "\"") else { return nil }
        let uri = String(line[start..<end])
        let numbers = uri.dropFirst("part".count).dropLast(".m4s".count).split(separator: ".").compactMap { Int($0) }
        guard numbers.count == 2 else { return nil }
        return (numbers[0], numbers[1], uri)
    }

    @Test("40 viewers asking at once for the part being written and for the blocking reload that waits for it: one origin request each, everyone gets the same bytes, and the reload lists that part")
    func collapses() async throws {
        let live = try await Self.live()
        defer { Task { await live.stop() } }
        let port = live.edge.port
        let plain = String(buffer: try await Self.get(port, "/live/cam/media.m3u8").body)
        let hint = try #require(Self.preloadHint(plain), "no preload hint in \(plain)")
        let partPath = "/live/cam/\(hint.uri)"
        let reloadPath = "/live/cam/media.m3u8?_HLS_msn=\(hint.msn)&_HLS_part=\(hint.part)"
        let started = ContinuousClock.now
        let responses = try await withThrowingTaskGroup(of: (String, Int, ByteBuffer, Duration).self) { group in
            for index in 0..<80 {
                let path = index % 2 == 0 ? partPath : reloadPath
                group.addTask {
                    let response = try await Self.get(port, path)
                    return (path, response.status, response.body, ContinuousClock.now - started)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(responses.allSatisfy { $0.1 == 200 }, "statuses \(responses.map(\.1))")
        let parts = responses.filter { $0.0 == partPath }, reloads = responses.filter { $0.0 == reloadPath }
        #expect(Set(parts.map { Array($0.2.readableBytesView) }).count == 1, "every viewer gets the same part")
        #expect(Set(reloads.map { String(buffer: $0.2) }).count == 1, "every viewer gets the same playlist")
        #expect(reloads.first.map { String(buffer: $0.2).contains("URI=\"\(hint.uri)\"") && String(buffer: $0.2).contains("#EXT-X-PART:") } == true,
                "the blocking reload came back once the part it named existed")
        let partStatuses = live.edge.cacheStatuses(of: partPath), reloadStatuses = live.edge.cacheStatuses(of: reloadPath)
        #expect(partStatuses.filter { $0 == "MISS" }.count == 1, "one origin request for the part: \(partStatuses)")
        #expect(reloadStatuses.filter { $0 == "MISS" }.count == 1, "one origin request for the blocking reload: \(reloadStatuses)")
        #expect(partStatuses.count == 40 && reloadStatuses.count == 40)
        let waits = parts.map(\.3).sorted(), reloadWaits = reloads.map(\.3).sorted()
        // nginx looks at a cache lock every 500 ms: the viewers who waited on the first get the part within that.
        #expect(waits.last.map { $0 < .seconds(1.5) } == true && reloadWaits.last.map { $0 < .seconds(1.5) } == true)
        print("edge collapsing: part \(partStatuses.filter { $0 == "MISS" }.count) origin request for 40 viewers, done after \(waits.first!)…\(waits.last!); blocking reload \(reloadStatuses.filter { $0 == "MISS" }.count) for 40, \(reloadWaits.first!)…\(reloadWaits.last!)")
    }

    @Test("the preload-hinted part streams through the edge as the origin writes it; plain reloads always reach the origin and are never stale")
    func streamsAndStaysFresh() async throws {
        let live = try await Self.live()
        defer { Task { await live.stop() } }
        let port = live.edge.port
        let plain = String(buffer: try await Self.get(port, "/live/cam/media.m3u8").body)
        let hint = try #require(Self.preloadHint(plain))
        let started = ContinuousClock.now
        var firstByte: Duration?
        let part = try await HTTPConnection.with(host: "127.0.0.1", port: port) { connection in
            try await connection.get("/live/cam/\(hint.uri)") { _ in if firstByte == nil { firstByte = ContinuousClock.now - started } }
        }
        let complete = ContinuousClock.now - started
        #expect(part.status == 200)
        let first = try #require(firstByte)
        // A part is 0.2 s of frames: its first frame's bytes come before its last frame is made.
        #expect(complete - first > .milliseconds(60), "first byte after \(first), complete after \(complete): the part was held back until complete")
        print("edge preload hint: first byte after \(first), part complete after \(complete)")

        // Plain reloads bypass the cache: a second one a second later is a later playlist, and neither was stored.
        try await Task.sleep(for: .milliseconds(1200))
        let later = String(buffer: try await Self.get(port, "/live/cam/media.m3u8").body)
        let laterHint = try #require(Self.preloadHint(later))
        #expect((laterHint.msn, laterHint.part) > (hint.msn, hint.part), "\(hint) then \(laterHint)")
        let statuses = live.edge.cacheStatuses(of: "/live/cam/media.m3u8")
        #expect(statuses == ["BYPASS", "BYPASS"], "\(statuses)")
        // The origin's answer is passed on with its freshness rules.
        let response = try await Self.get(port, "/live/cam/media.m3u8")
        #expect(response.header("Cache-Control") == "no-cache")
    }

    @Test("a members-only channel through the edge: a tokened URL is cached under its token, a member's cookie response is never stored, and a request without a token is refused by the origin, not served from the cache",
          .enabled(if: Tools.path("curl") != nil, "needs curl"))
    func membersOnly() async throws {
        let live = try await Self.live()
        defer { Task { await live.stop() } }
        let adminKey = try #require(try live.server.store.ensureAdminKey())
        let (made, _) = try await httpRequest(port: live.server.httpPort, .PUT, "/api/v1/channels/cam/audience", bearer: adminKey, body: #"{"private":true}"#)
        #expect(made == 200)
        let (minted, body) = try await httpRequest(port: live.server.httpPort, .POST, "/api/v1/channels/cam/playback-tokens", bearer: adminKey,
                                                   body: #"{"ttlSeconds":600,"viewer":"member-1"}"#)
        #expect(minted == 200)
        let token = try #require(body?["token"] as? String)
        let edge = "http://127.0.0.1:\(live.edge.port)"
        func status(_ path: String, cookie: String? = nil) async throws -> String {
            try await Tools.output("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}"] + (cookie.map { ["-H", "Cookie: liveloop_playback=\($0)"] } ?? []) + [edge + path]).1
        }
        #expect(try await status("/live/cam/init0.mp4") == "401")
        #expect(try await status("/live/cam/init0.mp4", cookie: token) == "200")
        #expect(try await status("/live/cam/init0.mp4") == "401", "the member's cookie response was served to a stranger from the cache")
        #expect(try await status("/live/cam/init0.mp4?pt=\(token)") == "200")
        #expect(try await status("/live/cam/init0.mp4?pt=\(token)") == "200")
        #expect(try await status("/live/cam/init0.mp4") == "401")
        #expect(live.edge.cacheStatuses(of: "/live/cam/init0.mp4?pt=\(token)") == ["MISS", "HIT"], "a tokened URL is cached under its token")
    }
}
