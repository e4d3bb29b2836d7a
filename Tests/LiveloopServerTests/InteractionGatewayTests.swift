import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import NIOCore
import NIOHTTP1
import Storage
import Testing

/// The interaction layer over real sockets: REST host actions, Python `websockets` clients, bad input, durability.
@Suite("interaction gateway", .serialized)
struct InteractionGatewayTests {
    static var havePythonWebsockets: Bool {
        (try? Tools.blockingOutput("python3", ["-c", "import websockets"]).0) == 0
    }

    static let pythonDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("python").path

    func token(_ server: LiveloopServer, channel: String, sub: String, role: Role) async throws -> String {
        try await server.tokens.mint(LiveloopClaims(sub: sub, name: sub, role: role, channel: channel, expires: Date().addingTimeInterval(3600)))
    }

    /// Creates and launches a poll through REST as the admin; returns its id.
    func launchPoll(port: Int, channel: String, adminKey: String, allowChanges: Bool = false) async throws -> String {
        let (status, created) = try await httpRequest(port: port, .POST, "/api/v1/channels/\(channel)/messages", bearer: adminKey,
            body: #"{"v":1,"type":"poll.create","id":"c1","question":"Tea or coffee?","options":["tea","coffee"],"allowChanges":\#(allowChanges)}"#)
        #expect(status == 200, "poll.create: \(String(describing: created))")
        let pollID = try #require(created?["ref"] as? String)
        let (launched, _) = try await httpRequest(port: port, .POST, "/api/v1/channels/\(channel)/messages", bearer: adminKey,
            body: #"{"v":1,"type":"poll.launch","id":"l1","pollID":"\#(pollID)"}"#)
        #expect(launched == 200)
        return pollID
    }

    @Test("bad frames from a Python client get error frames with stable codes and the connection stays",
          .enabled(if: havePythonWebsockets, "needs python3 websockets"))
    func badFrames() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("show")
        let adminKey = try #require(try server.store.ensureAdminKey())
        let pollID = try await launchPoll(port: server.httpPort, channel: "show", adminKey: adminKey)
        let viewer = try await token(server.server, channel: "show", sub: "viewer-1", role: .viewer)
        let (status, out, err) = try await Tools.output("python3", [
            "\(Self.pythonDirectory)/ws_bad_input.py", "ws://127.0.0.1:\(server.httpPort)/api/v1/channels/show/ws", viewer, pollID,
        ])
        #expect(status == 0, "python: \(err)")
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        #expect(seen["hello"] as? String == "hello")
        #expect(seen["role"] as? String == "viewer")
        let expected: [String: String] = [
            "malformed_json": "bad_request", "not_an_object": "bad_request", "unknown_type": "unknown_type",
            "oversized": "too_large", "missing_option": "unknown_option", "unknown_poll": "not_found",
            "viewer_host_action": "forbidden",
        ]
        for (name, code) in expected {
            #expect(seen[name] as? String == code, "\(name)")
            #expect(seen[name + "_alive"] as? Bool == true, "\(name): the connection stays open")
        }
        #expect(seen["valid_vote"] as? String == "ack")
        #expect(seen["second_vote"] as? String == "already_voted")

        // Nothing else changed: exactly one ballot, for option 1.
        let (_, room) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/room", bearer: adminKey)
        let polls = try #require(room?["polls"] as? [[String: Any]])
        let results = try #require(polls.first?["results"] as? [String: Any])
        #expect(results["counts"] as? [Int] == [0, 1])
    }

    @Test("viewers and guests cannot perform host or moderator actions over REST", arguments: [
        #"{"v":1,"type":"poll.create","question":"q","options":["a","b"]}"#,
        #"{"v":1,"type":"mod.ban","sub":"someone"}"#,
        #"{"v":1,"type":"chat.slowmode","seconds":5}"#,
        #"{"v":1,"type":"offer.show","offer":{"offerID":"tee","title":"Tee","price":"24.90","currency":"EUR","imageURL":"https://shop.example/tee.jpg","link":"https://shop.example/tee"}}"#,
    ])
    func viewerRefused(_ body: String) async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("show")
        let viewer = try await token(server.server, channel: "show", sub: "v1", role: .viewer)
        let (status, reply) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/channels/show/messages", bearer: viewer, body: body)
        #expect(status == 403)
        #expect(reply?["code"] as? String == "forbidden")
        #expect(try await httpRequest(port: server.httpPort, .POST, "/api/v1/channels/show/messages", bearer: nil, body: body).0 == 401)
        let otherChannel = try await token(server.server, channel: "elsewhere", sub: "h1", role: .host)
        #expect(try await httpRequest(port: server.httpPort, .POST, "/api/v1/channels/show/messages", bearer: otherChannel, body: body).0 == 403)
    }

    @Test("channel settings change the room: reactions, limits, validation, and only hosts may change them")
    func settings() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("show")
        let adminKey = try #require(try server.store.ensureAdminKey())
        let port = server.httpPort
        let (saved, _) = try await httpRequest(port: port, .PUT, "/api/v1/channels/show/settings", bearer: adminKey,
                                               body: #"{"allowedReactions":["🎉"],"rateLimits":null,"allowAnonymous":false}"#)
        #expect(saved == 200)
        let (_, room) = try await httpRequest(port: port, .GET, "/api/v1/channels/show/room", bearer: adminKey)
        #expect(room?["allowedReactions"] as? [String] == ["🎉"])
        #expect(try server.store.channel(named: "show")?.allowAnonymous == false)
        let (bad, badBody) = try await httpRequest(port: port, .PUT, "/api/v1/channels/show/settings", bearer: adminKey,
                                                   body: #"{"slowModeSeconds":99999}"#)
        #expect(bad == 400)
        #expect((badBody?["error"] as? [String: Any])?["code"] as? String == "bad_request")
        let moderator = try await token(server.server, channel: "show", sub: "m1", role: .moderator)
        #expect(try await httpRequest(port: port, .PUT, "/api/v1/channels/show/settings", bearer: moderator, body: "{}").0 == 403)
        // With rate limits off, a burst of chat is all accepted.
        let host = try await token(server.server, channel: "show", sub: "h1", role: .host)
        for i in 0..<12 {
            let (status, reply) = try await httpRequest(port: port, .POST, "/api/v1/channels/show/messages", bearer: host,
                                                        body: #"{"v":1,"type":"chat.send","id":"c\#(i)","text":"hello \#(i)"}"#)
            #expect(status == 200, "\(String(describing: reply))")
        }
    }

    @Test("kill -9 during a burst of votes: after a restart every acknowledged vote is in the tally",
          .enabled(if: havePythonWebsockets && LiveloopBinary.path != nil, "needs python3 websockets and the built liveloop binary"))
    func durability() async throws {
        let data = NSTemporaryDirectory() + "liveloop-kill-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: data) }
        let store = try Storage.SQLiteStore(directory: data)
        _ = try store.createChannel(name: "show")
        let adminKey = try #require(try store.ensureAdminKey())
        let authority = await TokenAuthority(secret: try store.secret(named: LiveloopServer.tokenSecretName))

        var server = try LiveloopBinary.start(data: data)
        #expect(await server.waitUntilHealthy())
        let pollID = try await launchPoll(port: server.httpPort, channel: "show", adminKey: adminKey)

        let viewers = 400
        var tokens: [String] = []
        for i in 0..<viewers {
            tokens.append(try await authority.mint(LiveloopClaims(sub: "voter-\(i)", name: "v\(i)", role: .viewer, channel: "show",
                                                                  expires: Date().addingTimeInterval(3600))))
        }
        let ackFile = data + "/acks.txt"
        _ = FileManager.default.createFile(atPath: ackFile, contents: nil)
        let burst = try Tools.run("python3", ["\(Self.pythonDirectory)/ws_vote_burst.py",
                                             "ws://127.0.0.1:\(server.httpPort)/api/v1/channels/show/ws", pollID, ackFile] + tokens)
        // Kill the server hard once some votes are acknowledged, in the middle of the burst.
        #expect(await eventually(timeout: .seconds(20)) {
            ((try? String(contentsOfFile: ackFile, encoding: .utf8)) ?? "").split(separator: "\n").count >= 40
        })
        server.kill()
        _ = await Tools.waitForExit(burst, timeout: .seconds(30))
        let acked = ((try? String(contentsOfFile: ackFile, encoding: .utf8)) ?? "").split(separator: "\n").map { $0.split(separator: " ") }
        #expect(acked.count >= 40)

        server = try LiveloopBinary.start(data: data)
        defer { server.kill() }
        #expect(await server.waitUntilHealthy())
        let (_, room) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/room", bearer: adminKey)
        let polls = try #require(room?["polls"] as? [[String: Any]])
        let results = try #require(polls.first?["results"] as? [String: Any])
        let counts = try #require(results["counts"] as? [Int])
        let ackedPerOption = [acked.filter { $0.last == "0" }.count, acked.filter { $0.last == "1" }.count]
        #expect(counts[0] >= ackedPerOption[0] && counts[1] >= ackedPerOption[1],
                "every acknowledged vote survived: tally \(counts), acknowledged \(ackedPerOption)")
        #expect(counts[0] + counts[1] <= viewers)
    }
}

/// The `liveloop` executable built next to the test bundle, run as a separate process (for kill -9).
struct LiveloopBinary {
    let process: Process
    let httpPort: Int
    var rtmpPort = 0

    static var path: String? {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [directory, directory.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("liveloop").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// A port nothing listens on now: the kernel picks it for a socket bound to port 0, which is then closed. (A random
    /// pick could land on a port still held by the hundreds of client sockets a burst test just used.)
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : Int.random(in: 10_000...30_000)
    }

    static func start(data: String, extra: [String] = []) throws -> LiveloopBinary {
        let http = freePort()
        let rtmp = freePort()
        let process = try Tools.run(path ?? "liveloop", [
            "serve", "--data", data, "--host", "127.0.0.1", "--http-port", "\(http)", "--rtmp-port", "\(rtmp)", "--log-level", "warning",
        ] + extra)
        return LiveloopBinary(process: process, httpPort: http, rtmpPort: rtmp)
    }

    func waitUntilHealthy() async -> Bool {
        await eventually(timeout: .seconds(20)) {
            (try? await httpRequest(port: httpPort, .GET, "/healthz", bearer: nil))?.0 == 200
        }
    }

    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

@Suite("the liveloop binary")
struct BinaryTests {
    @Test("SIGTERM ends live playlists with EXT-X-ENDLIST and the process exits cleanly",
          .enabled(if: LiveloopBinary.path != nil, "needs the built liveloop binary"))
    func sigterm() async throws {
        let data = NSTemporaryDirectory() + "liveloop-term-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try LiveloopBinary.start(data: data, extra: ["--demo"])
        defer { server.kill() }
        #expect(await server.waitUntilHealthy())
        #expect(await eventually { (try? await httpRequest(port: server.httpPort, .GET, "/live/demo/index.m3u8", bearer: nil))?.0 == 200 })
        let port = server.httpPort
        let waiting = Task {
            try await HTTPConnection.with(host: "127.0.0.1", port: port) { try await $0.get("/live/demo/media.m3u8?_HLS_msn=2") }
        }
        try await Task.sleep(for: .milliseconds(200))
        kill(server.process.processIdentifier, SIGTERM)
        let response = try await waiting.value
        #expect(String(buffer: response.body).contains("#EXT-X-ENDLIST"), "a waiting player learns the stream ended")
        let status = await Tools.waitForExit(server.process, timeout: .seconds(20))
        #expect(status == 0, "exit status after SIGTERM")
    }
}
