import Foundation
import Interaction
import LiveloopServer
import NIOHTTP1
import Storage
import Synchronization
import Testing

/// A channel's video settings (renditions, recording): the API, the CLI on the same data directory, and what an
/// observer of changes is told.
@Suite("channel video settings", .serialized)
struct ChannelVideoTests {
    func token(_ server: TestServer, role: Role) async throws -> String {
        try await server.server.tokens.mint(
            LiveloopClaims(sub: "\(role)", name: "\(role)", role: role, channel: "show", expires: Date().addingTimeInterval(3600)))
    }

    static func errorMessage(_ body: [String: Any]?) -> String {
        ((body?["error"] as? [String: Any])?["message"] as? String) ?? ""
    }

    @Test("GET shows the defaults; the host's PUT changes one field at a time, sorts the ladder and tells observers; bad ladders are 400s")
    func api() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("show")
        let seen = SeenChanges()
        server.server.video.observe { channel, settings in seen.append(channel, settings) }
        let (host, moderator, viewer) = (try await token(server, role: .host), try await token(server, role: .moderator),
                                         try await token(server, role: .viewer))
        let path = "/api/v1/channels/show/video"

        #expect(try await httpRequest(port: server.httpPort, .GET, path, bearer: nil).0 == 401)
        #expect(try await httpRequest(port: server.httpPort, .GET, path, bearer: viewer).0 == 403)
        var (status, body) = try await httpRequest(port: server.httpPort, .GET, path, bearer: moderator)
        #expect(status == 200 && body?["renditions"] as? [String] == [] && body?["record"] as? Bool == false)

        (status, body) = try await httpRequest(port: server.httpPort, .PUT, path, bearer: moderator, body: #"{"record":true}"#)
        #expect(status == 403, "a moderator reads but does not change the video")
        (status, body) = try await httpRequest(port: server.httpPort, .PUT, path, bearer: host, body: #"{"renditions":["360p","720p","480p"]}"#)
        #expect(status == 200 && body?["renditions"] as? [String] == ["720p", "480p", "360p"] && body?["record"] as? Bool == false)
        (status, body) = try await httpRequest(port: server.httpPort, .PUT, path, bearer: host, body: #"{"record":true}"#)
        #expect(status == 200 && body?["renditions"] as? [String] == ["720p", "480p", "360p"] && body?["record"] as? Bool == true,
                "a field left out stays as it was")
        #expect(seen.all.map(\.1) == [ChannelVideoSettings(renditions: ["720p", "480p", "360p"]),
                                      ChannelVideoSettings(renditions: ["720p", "480p", "360p"], record: true)])
        #expect(seen.all.allSatisfy { $0.0 == "show" })

        for (bad, message) in [(#"{"renditions":["4k"]}"#, "unknown rendition \"4k\""),
                               (#"{"renditions":["720p","720p"]}"#, "listed twice"),
                               (#"{"renditions":["1080p","720p","480p","360p","240p"]}"#, "at most 4"),
                               (#"{"record":"yes"}"#, "expected"),
                               ("not json", "expected")] {
            (status, body) = try await httpRequest(port: server.httpPort, .PUT, path, bearer: host, body: bad)
            #expect(status == 400 && Self.errorMessage(body).contains(message), "\(bad): \(status) \(Self.errorMessage(body))")
        }
        #expect(try server.store.videoSettings(channel: "show") == ChannelVideoSettings(renditions: ["720p", "480p", "360p"], record: true),
                "a refused change changes nothing")
        #expect(seen.all.count == 2)

        let adminKey = try #require(try server.store.ensureAdminKey())
        #expect(try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/nope/video", bearer: adminKey).0 == 404)
        (status, body) = try await httpRequest(port: server.httpPort, .PUT, path, bearer: adminKey, body: #"{"renditions":[]}"#)
        #expect(status == 200 && body?["renditions"] as? [String] == [])
    }

    @Test("liveloop channels set changes the ladder and recording on the data directory the server reads",
          .enabled(if: ConfigFileTests.haveBinary))
    func cli() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("show")
        let data = server.dataDirectory
        func run(_ arguments: [String]) async throws -> (Int32, String, String) {
            try await Tools.output(ConfigFileTests.binary, ["channels", "set"] + arguments + ["--data", data])
        }

        var (status, out, errors) = try await run(["show", "--renditions", "480p, 720p", "--record", "on", "--json"])
        #expect(status == 0, "\(errors)")
        let printed = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        #expect(printed["renditions"] as? [String] == ["720p", "480p"] && printed["record"] as? Bool == true)
        let adminKey = try #require(try server.store.ensureAdminKey())
        let (_, body) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/video", bearer: adminKey)
        #expect(body?["renditions"] as? [String] == ["720p", "480p"] && body?["record"] as? Bool == true)

        (status, out, _) = try await run(["show", "--renditions", "none"])
        #expect(status == 0 && out.contains("source only") && out.contains("record:     on"))
        (status, _, errors) = try await run(["show", "--renditions", "8k"])
        #expect(status != 0 && errors.contains("unknown rendition \"8k\""))
        (status, _, errors) = try await run(["show", "--record", "maybe"])
        #expect(status != 0 && errors.contains("maybe"))
        (status, _, errors) = try await run(["show"])
        #expect(status != 0 && errors.contains("nothing to change"))
        (status, _, errors) = try await run(["ghost", "--record", "on"])
        #expect(status != 0 && errors.contains("not found"))
        #expect(try server.store.videoSettings(channel: "show") == ChannelVideoSettings(renditions: [], record: true))
    }

    @Test("deleting a channel forgets its video settings")
    func deletion() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("show")
        try server.store.saveVideoSettings(channel: "show", ChannelVideoSettings(renditions: ["480p"], record: true))
        try server.store.deleteChannel(name: "show")
        _ = try server.createChannel("show")
        #expect(try server.store.videoSettings(channel: "show") == ChannelVideoSettings())
    }
}

final class SeenChanges: Sendable {
    private let changes = Mutex<[(String, ChannelVideoSettings)]>([])
    func append(_ channel: String, _ settings: ChannelVideoSettings) { changes.withLock { $0.append((channel, settings)) } }
    var all: [(String, ChannelVideoSettings)] { changes.withLock { $0 } }
}
