import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import NIOCore
import NIOHTTP1
import NIOPosix
import Storage
import Testing

/// Analytics end to end: ffmpeg publishes over RTMP, real SDK viewers join, vote, chat and react, the publisher
/// leaves, and the broadcast's report (JSON and CSV, built from the event log) says exactly what they did; the studio
/// draws it in Chromium.
@Suite("analytics", .serialized)
struct AnalyticsEndToEndTests {
    static let artifacts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("artifacts/browser").path
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("browser/analytics.py").path

    func token(_ server: TestServer, sub: String, role: Role) async throws -> String {
        try await server.server.tokens.mint(
            LiveloopClaims(sub: sub, name: sub, role: role, channel: "show", expires: Date().addingTimeInterval(3600)))
    }

    func client(_ server: TestServer, token: String) async throws -> InteractionClient {
        var configuration = InteractionClient.Configuration()
        configuration.clockSync = nil
        configuration.reconnect = nil
        configuration.ignoredKinds = [.viewers]
        configuration.requestTimeout = .seconds(30)
        configuration.connectTimeout = .seconds(30)
        return try await InteractionClient.connect(url: InteractionClient.url(server: "http://127.0.0.1:\(server.httpPort)", channel: "show"),
                                                   token: token, configuration: configuration)
    }

    func json(_ server: TestServer, _ path: String, bearer: String?) async throws -> (Int, Any?) {
        let (status, _, body) = try await rawRequest(port: server.httpPort, path, bearer: bearer)
        return (status, try? JSONSerialization.jsonObject(with: body))
    }

    func broadcasts(_ server: TestServer, _ key: String) async throws -> [[String: Any]] {
        let (status, body) = try await json(server, "/api/v1/channels/show/broadcasts", bearer: key)
        #expect(status == 200)
        return body as? [[String: Any]] ?? []
    }

    @Test("a real broadcast's report equals what its viewers did (peak, voters, participation, chat, reactions); the CSV parses; the studio charts it",
          .enabled(if: Tools.path("ffmpeg") != nil, "needs ffmpeg"))
    func reportMatchesTheShow() async throws {
        let server = try await TestServer.start(grace: .seconds(1))
        let key = try server.createChannel("show")
        let admin = try #require(try server.store.ensureAdminKey())
        #expect(try await broadcasts(server, admin).isEmpty, "no broadcast before the first publish")

        let ffmpeg = try Tools.publish(to: server.rtmpURL(key: key), frames: 30 * 300, preset: "ultrafast")
        defer { if ffmpeg.isRunning { Foundation.kill(ffmpeg.processIdentifier, SIGKILL) } }
        var list: [[String: Any]] = []
        #expect(try await eventually(timeout: .seconds(20)) {
            list = try await broadcasts(server, admin)
            return list.count == 1
        }, "the publish started a broadcast")
        let id = try #require(list.first?["id"] as? String)
        #expect(list.first?["endedAt"] is NSNull, "the broadcast is live")

        // The host (staff: not counted as audience) and three viewers.
        let host = try await client(server, token: try await token(server, sub: "host-1", role: .host))
        var viewers: [InteractionClient] = []
        for index in 0..<3 { viewers.append(try await client(server, token: try await token(server, sub: "viewer-\(index)", role: .viewer))) }
        let created = try await host.perform(.pollCreate(.init(question: "Tea or coffee?", options: ["tea", "coffee"])))
        let pollID = try #require(created.ref)
        try await host.perform(.pollLaunch(.init(pollID: pollID)))
        // Two of three vote; three messages; four reactions; one question.
        for (index, viewer) in viewers.prefix(2).enumerated() {
            try await viewer.perform(.pollVote(.init(pollID: pollID, choices: [index])))
        }
        try await viewers[0].perform(.chatSend(.init(text: "hello")))
        try await viewers[0].perform(.chatSend(.init(text: "again")))
        try await viewers[2].perform(.chatSend(.init(text: "hi all")))
        for emoji in ["❤️", "❤️", "👍", "🔥"] { try await viewers[1].perform(.reaction(.init(emoji: emoji))) }
        try await viewers[2].perform(.qaAsk(.init(text: "When is the next show?")))

        // The live report: numbers so far, no end.
        let (liveStatus, liveBody) = try await json(server, "/api/v1/channels/show/broadcasts/\(id)/report", bearer: admin)
        #expect(liveStatus == 200)
        let live = try #require(liveBody as? [String: Any])
        #expect(live["live"] as? Bool == true && live["endedAt"] is NSNull)
        #expect((live["polls"] as? [[String: Any]])?.first?["voters"] as? Int == 2)

        for viewer in viewers { await viewer.close() }
        await host.close()
        // The encoder goes away (ffmpeg finishes a SIGTERM only at its own pace): the connection drops, and after the
        // reconnect grace the broadcast ends.
        Foundation.kill(ffmpeg.processIdentifier, SIGKILL)
        #expect(try await eventually(timeout: .seconds(20)) {
            list = try await broadcasts(server, admin)
            return list.first.map { !($0["endedAt"] is NSNull) } ?? false
        }, "the broadcast ended when the publisher left")
        #expect(list.first?["peakViewers"] as? Int == 3)

        let (status, body) = try await json(server, "/api/v1/channels/show/broadcasts/\(id)/report", bearer: admin)
        #expect(status == 200)
        let report = try #require(body as? [String: Any])
        #expect(report["live"] as? Bool == false && report["broadcastID"] as? String == id)
        let audience = try #require(report["viewers"] as? [String: Any])
        #expect(audience["peak"] as? Int == 3, "three viewers; the host is staff")
        let poll = try #require((report["polls"] as? [[String: Any]])?.first)
        #expect(poll["viewersAtLaunch"] as? Int == 3 && poll["voters"] as? Int == 2)
        #expect(abs((poll["participation"] as? Double ?? 0) - 2.0 / 3.0) < 1e-9)
        #expect(poll["counts"] as? [Int] == [1, 1])
        #expect((report["chat"] as? [String: Any])?["total"] as? Int == 3)
        let reactions = try #require(report["reactions"] as? [String: Any])
        #expect(reactions["total"] as? Int == 4 && reactions["byEmoji"] as? [String: Int] == ["❤️": 2, "👍": 1, "🔥": 1])
        #expect((report["questions"] as? [String: Any])?["asked"] as? Int == 1)
        let series = try #require(audience["series"] as? [[String: Any]])
        #expect(series.count >= 3 && series.map { $0["count"] as? Int ?? -1 }.contains(3))

        // The live report, the ended one and the list are what the OpenAPI document says (JSON Schema 2020-12).
        for (body, schema) in [(liveBody as Any, "BroadcastReport"), (body as Any, "BroadcastReport"), (list as Any, "BroadcastSummary")] {
            try await expectConforms(body, to: schema, array: schema == "BroadcastSummary")
        }

        // The CSV, read by Python's csv module.
        let (csvStatus, headers, csv) = try await rawRequest(port: server.httpPort, "/api/v1/channels/show/broadcasts/\(id)/report.csv", bearer: admin)
        #expect(csvStatus == 200 && headers["content-type"]?.hasPrefix("text/csv") == true)
        let file = NSTemporaryDirectory() + "liveloop-report-\(UUID().uuidString).csv"
        try csv.write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let reader = "import csv,json,sys\nrows=list(csv.DictReader(open(sys.argv[1],newline='')))\n"
            + "print(json.dumps({r['section']+'/'+r['item']+'/'+r['metric']: r['value'] for r in rows}))"
        let (code, out, err) = try await Tools.output("python3", ["-c", reader, file])
        #expect(code == 0, "\(err)")
        let cells = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: String])
        #expect(cells["summary//peakViewers"] == "3")
        #expect(cells["poll/\(pollID)/voters"] == "2" && cells["poll/\(pollID)/viewersAtLaunch"] == "3")
        #expect(cells["poll/\(pollID)/participation"] == "0.6667")
        #expect(cells["chat//messages"] == "3" && cells["reactions//taps"] == "4")
        let (formatStatus, _, sameCSV) = try await rawRequest(port: server.httpPort, "/api/v1/channels/show/broadcasts/\(id)/report?format=csv", bearer: admin)
        #expect(formatStatus == 200 && sameCSV == csv)

        // Refusals: a JSON body each, nothing changed.
        let (missing, missingBody) = try await json(server, "/api/v1/channels/show/broadcasts/b123/report", bearer: admin)
        #expect(missing == 404 && ((missingBody as? [String: Any])?["error"] as? [String: Any])?["code"] as? String == "not_found")
        #expect(try await json(server, "/api/v1/channels/show/broadcasts/\(id)/report?format=xml", bearer: admin).0 == 400)
        #expect(try await json(server, "/api/v1/channels/nope/broadcasts", bearer: admin).0 == 404)
        #expect(try await json(server, "/api/v1/channels/show/broadcasts", bearer: nil).0 == 401)
        let viewerToken = try await token(server, sub: "viewer-0", role: .viewer)
        #expect(try await json(server, "/api/v1/channels/show/broadcasts/\(id)/report", bearer: viewerToken).0 == 403)

        // The studio draws the same report: one dot per viewer sample, one participation bar for the one poll.
        if BrowserTests.haveBrowser {
            let hostToken = try await token(server, sub: "host-1", role: .host)
            _ = try await BrowserScript.run(Self.script, ["http://127.0.0.1:\(server.httpPort)", hostToken, "show", String(series.count), "1", Self.artifacts],
                                            label: "studio analytics")
        }
        await server.stop()
    }

    @Test("a restart keeps the broadcasts and their reports")
    func restartKeepsReports() async throws {
        let server = try await TestServer.start(grace: .seconds(1))
        let key = try server.createChannel("show")
        let admin = try #require(try server.store.ensureAdminKey())
        let ffmpeg = try Tools.publish(to: server.rtmpURL(key: key), frames: 30 * 60, preset: "ultrafast")
        #expect(try await eventually(timeout: .seconds(20)) { try await broadcasts(server, admin).count == 1 })
        Foundation.kill(ffmpeg.processIdentifier, SIGKILL)
        #expect(await Tools.waitForExit(ffmpeg) != nil)
        #expect(await eventually(timeout: .seconds(20)) {
            String(buffer: (try? await server.get("/live/show/media.m3u8"))?.body ?? ByteBuffer()).contains("#EXT-X-ENDLIST")
        }, "the broadcast ended")
        #expect(try await eventually(timeout: .seconds(20)) {
            try await broadcasts(server, admin).first.map { !($0["endedAt"] is NSNull) } ?? false
        }, "the end is in the log")
        let before = try await broadcasts(server, admin)
        await server.stop(keepingData: true)
        let again = try await TestServer.start(grace: .seconds(1), dataDirectory: server.dataDirectory)
        let after = try await broadcasts(again, admin)
        #expect(after.map { $0["id"] as? String } == before.map { $0["id"] as? String })
        #expect(after.first?["endedAt"] as? String == before.first?["endedAt"] as? String)
        await again.stop()
    }
}

/// Checks `value` against a schema of `Sources/LiveloopServer/Web/openapi.json` with Python's `jsonschema`.
func expectConforms(_ value: Any?, to schema: String, array: Bool = false) async throws {
    let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/LiveloopServer/Web/openapi.json").path
    let file = NSTemporaryDirectory() + "liveloop-value-\(UUID().uuidString).json"
    try JSONSerialization.data(withJSONObject: value ?? NSNull()).write(to: URL(fileURLWithPath: file))
    defer { try? FileManager.default.removeItem(atPath: file) }
    let check = """
        import json, sys, jsonschema
        doc = json.load(open(sys.argv[1])); ref = {"$ref": "#/components/schemas/" + sys.argv[3]}
        schema = {"type": "array", "items": ref} if sys.argv[4] == "array" else ref
        jsonschema.Draft202012Validator({**schema, "components": doc["components"]},
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(json.load(open(sys.argv[2])))
        """
    let (status, _, err) = try await Tools.output("python3", ["-c", check, document, file, schema, array ? "array" : "one"])
    #expect(status == 0, "\(schema): \(err.suffix(1500))")
}

/// One HTTP/1.1 GET with an optional bearer token: status, headers (lower-cased names) and the body as bytes.
func rawRequest(port: Int, _ path: String, bearer: String?) async throws -> (Int, [String: String], Data) {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: "localhost")
        if let bearer { head.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        try await outbound.write(.head(head))
        try await outbound.write(.end(nil))
        var status = 0
        var headers: [String: String] = [:]
        var data = ByteBuffer()
        for try await part in inbound {
            switch part {
            case let .head(response):
                status = Int(response.status.code)
                for (name, value) in response.headers { headers[name.lowercased()] = value }
            case var .body(bytes): data.writeBuffer(&bytes)
            case .end: return (status, headers, Data(data.readableBytesView))
            }
        }
        return (status, headers, Data(data.readableBytesView))
    }
}
