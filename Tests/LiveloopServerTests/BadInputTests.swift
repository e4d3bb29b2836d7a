import Foundation
import LiveloopClient
import NIOCore
import Testing

/// Bad input closes the one offending connection (or gets a JSON 4xx) and nothing else changes.
@Suite("bad input", .serialized)
struct BadInputTests {
    static let badRTMP: [(String, [[UInt8]])] = [
        ("garbage instead of a handshake", [Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + [UInt8](repeating: 0x41, count: 3100)]),
        ("an unknown message type", [RTMPBytes.handshake, RTMPBytes.connect, RTMPBytes.header(length: 4, type: 99) + [1, 2, 3, 4]]),
        ("a message over the 8 MiB limit", [RTMPBytes.handshake, RTMPBytes.header(length: 9 << 20, type: 9)]),
        ("a chunk size over the limit", [RTMPBytes.handshake, RTMPBytes.header(length: 4, type: 1, csid: 2) + [0x7F, 0xFF, 0xFF, 0xFF]]),
        ("malformed AMF0 in a command", [RTMPBytes.handshake, RTMPBytes.header(length: 6, type: 20) + [0x02, 0xFF, 0xFF, 0x61, 0x62, 0x63]]),
        ("an AMF0 marker that does not exist", [RTMPBytes.handshake, RTMPBytes.header(length: 3, type: 20) + [0x42, 0x00, 0x01]]),
        ("a continuation chunk before any header", [RTMPBytes.handshake, [0xC5, 1, 2, 3]]),
        ("publish before connect", [RTMPBytes.handshake, {
            let body: [UInt8] = [0x02, 0, 7] + Array("publish".utf8) + [0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x05, 0x02, 0, 1, 0x6B]
            return RTMPBytes.header(length: body.count, type: 20) + body
        }()]),
    ]

    @Test("bad RTMP input closes that connection while a live publisher carries on", .enabled(if: Tools.haveFFmpeg),
          arguments: badRTMP.map(\.0))
    func badRTMPInput(_ name: String) async throws {
        let bytes = try #require(Self.badRTMP.first { $0.0 == name }?.1)
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let key = try server.createChannel("studio")
        let publisher = try Tools.publish(to: server.rtmpURL(key: key), frames: 300)
        defer { publisher.terminate() }
        #expect(await eventually { (try? await server.get("/live/studio/media.m3u8"))?.status == 200 })

        let closed = try await RawTCP.sendAndAwaitClose(port: server.rtmpPort, bytes)
        #expect(closed, "the server closes a connection that sends \(name)")

        let before = String(buffer: try await server.get("/live/studio/media.m3u8").body)
        try await Task.sleep(for: .milliseconds(700))
        let after = String(buffer: try await server.get("/live/studio/media.m3u8").body)
        #expect(publisher.isRunning)
        #expect(before != after, "the live publisher is unaffected")
        #expect(try await server.get("/healthz").status == 200)
    }

    @Test("a truncated chunk waits for the rest, and a client that leaves mid-message disturbs nothing")
    func truncatedChunk() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        // Half a connect message: the server waits for the rest rather than misreading it (no close yet)…
        let half = Array(RTMPBytes.connect.prefix(20))
        let closedEarly = try await RawTCP.sendAndAwaitClose(port: server.rtmpPort, [RTMPBytes.handshake, half], timeout: .milliseconds(300))
        #expect(!closedEarly, "an incomplete chunk is not an error by itself")
        // …and after that client went away, the server and its RTMP port still work.
        #expect(try await server.get("/healthz").status == 200)
        let closed = try await RawTCP.sendAndAwaitClose(port: server.rtmpPort, [RTMPBytes.handshake, RTMPBytes.header(length: 4, type: 99) + [1, 2, 3, 4]])
        #expect(closed)
    }

    @Test("unknown channels, segments and parts get 404 with a JSON body", arguments: [
        "/live/nope/index.m3u8", "/live/nope/media.m3u8", "/live/demo/seg999.m4s", "/live/demo/part999.0.m4s",
        "/live/demo/init9.mp4", "/live/demo/evil.txt", "/no/such/route",
    ])
    func notFound(_ path: String) async throws {
        let server = try await TestServer.start(demo: true)
        defer { Task { await server.stop() } }
        #expect(await eventually { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })
        let response = try await server.get(path)
        #expect(response.status == 404)
        #expect(response.header("content-type")?.hasPrefix("application/json") == true)
        let json = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
        let error = json?["error"] as? [String: Any]
        #expect(error?["code"] as? String == "not_found")
        #expect((error?["message"] as? String)?.isEmpty == false)
    }

    @Test("bad blocking-reload parameters get 400 with a JSON body", arguments: [
        "_HLS_msn=abc", "_HLS_msn=-1", "_HLS_part=1", "_HLS_msn=1&_HLS_part=x", "_HLS_msn=100000",
    ])
    func badPlaylistQuery(_ query: String) async throws {
        let server = try await TestServer.start(demo: true)
        defer { Task { await server.stop() } }
        #expect(await eventually { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })
        let response = try await server.get("/live/demo/media.m3u8?\(query)")
        #expect(response.status == 400)
        #expect(String(buffer: response.body).contains("\"code\":\"bad_request\""))
    }
}
