import Foundation
import Interaction
import LiveloopClient
@testable import LiveloopServer
import NIOHTTP1
import Storage
import Testing

/// The numbers a host sees: video viewers on every path (LL-HLS, WebSocket fMP4, WebRTC) in `GET …/health`, on
/// `/metrics` and in `/api/v1/live`; the ingest URLs the channel API gives; the sync targets a channel that runs
/// quizzes gets by default.
@Suite("studio numbers: viewers per path, ingest URLs, quiz channels in lock-step", .serialized)
struct StudioNumbersTests {
    static let holdScript = "\(InteractionGatewayTests.pythonDirectory)/live_ws_hold.py"

    func health(_ server: TestServer, key: String) async throws -> [String: Any] {
        let (status, body) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/demo/health", bearer: key)
        #expect(status == 200)
        return body ?? [:]
    }

    @Test("three WebSocket viewers, an LL-HLS reader and two WHEP sessions: health says 6 with the breakdown, /metrics and /api/v1/live agree, and the counts fall when they leave",
          .enabled(if: InteractionGatewayTests.havePythonWebsockets, "needs python3 websockets"), .timeLimit(.minutes(2)))
    func everyPathCounts() async throws {
        let server = try await TestServer.start(demo: true)
        defer { Task { await server.stop() } }
        let key = try #require(try server.store.ensureAdminKey())
        // The LL-HLS reader: this test's own playlist requests.
        #expect(await eventually(timeout: .seconds(15)) { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })

        async let held = Tools.output("python3", [Self.holdScript, "ws://127.0.0.1:\(server.httpPort)/live/demo/ws", "3", "6"])
        let three = await eventually {
            let paths = (try? await health(server, key: key))?["viewersByPath"] as? [String: Any]
            return paths?["websocket"] as? Int == 3
        }
        #expect(three, "three video sockets counted")
        var webrtc = 0
        if Aiortc.isInstalled && WebRTCNode.isAvailable {
            // Offers without ICE: two sessions, counted until their setup timeout (10 s) ends them.
            let result = try await WHEPTests.run(["full", "http://127.0.0.1:\(server.httpPort)", "demo", "2"])
            #expect(result["statuses"] as? [Int] == [201, 201])
            webrtc = 2
        }
        _ = try await server.get("/live/demo/media.m3u8")
        let body = try await health(server, key: key)
        let paths = try #require(body["viewersByPath"] as? [String: Any])
        #expect(paths["llhls"] as? Int == 1, "one LL-HLS client address")
        #expect(paths["websocket"] as? Int == 3)
        #expect(paths["webrtc"] as? Int == webrtc)
        #expect(body["videoViewers"] as? Int == 4 + webrtc, "every path added up: \(body)")
        #expect(body["hlsViewers"] as? Int == 1, "the LL-HLS-only field is kept")

        let metrics = try await Exposition.scrape(server).exposition
        #expect(metrics.value("liveloop_viewers", [("channel", "demo")]) == Double(4 + webrtc))
        #expect(metrics.value("liveloop_path_viewers", [("channel", "demo"), ("path", "llhls")]) == 1)
        #expect(metrics.value("liveloop_path_viewers", [("channel", "demo"), ("path", "websocket")]) == 3)
        #expect(metrics.value("liveloop_path_viewers", [("channel", "demo"), ("path", "webrtc")]) == Double(webrtc))
        #expect(metrics.value("liveloop_video_socket_viewers", [("channel", "demo")]) == 3)

        let (status, live) = try await httpJSON(port: server.httpPort, .GET, "/api/v1/live", bearer: nil)
        #expect(status == 200)
        let demo = (live as? [[String: Any]])?.first { $0["name"] as? String == "demo" }
        #expect(demo?["viewers"] as? Int == 4 + webrtc, "the channel list counts video viewers on every path")

        let (exit, out, err) = try await held
        #expect(exit == 0, "live_ws_hold.py: \(err)")
        #expect(out.contains(#""inits": 3"#), "each socket got its init: \(out)")
        let left = await eventually(timeout: .seconds(20)) {
            let paths = (try? await health(server, key: key))?["viewersByPath"] as? [String: Any]
            return paths?["websocket"] as? Int == 0 && paths?["webrtc"] as? Int == 0
        }
        #expect(left, "closed sockets and ended sessions leave the counts")
    }

    @Test("the channel API lists RTMP and SRT ingest per channel and says where the host came from")
    func ingestURLs() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let key = try #require(try server.store.ensureAdminKey())
        let (created, body) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/channels", bearer: key, body: #"{"name":"show"}"#)
        #expect(created == 201)
        #expect(body?["rtmpURL"] as? String == "rtmp://127.0.0.1:\(server.rtmpPort)/live")
        #expect(body?["ingestHost"] as? String == "configured", "the test server has a public host")
        if let srt = server.srtPort {
            #expect(body?["srtURL"] as? String == "srt://127.0.0.1:\(srt)")
        } else {
            #expect(body?["srtURL"] == nil, "no SRT URL where SRT does not run")
        }
        let (listed, list) = try await httpJSON(port: server.httpPort, .GET, "/api/v1/channels", bearer: key)
        #expect(listed == 200)
        let row = (list as? [[String: Any]])?.first { $0["name"] as? String == "show" }
        #expect(row?["rtmpURL"] as? String == body?["rtmpURL"] as? String, "an existing channel's RTMP URL is listed")
        #expect(row?["streamKey"] == nil, "the key is not")
    }

    @Test("the host in the ingest URLs: the configured one, else the request's, else this machine's name", arguments: [
        (configured: "live.example.com", request: "10.0.0.5:8080", host: "live.example.com", source: IngestEndpoints.HostSource.configured),
        (configured: nil, request: "studio.example.org:8080", host: "studio.example.org", source: .request),
        (configured: nil, request: "[2001:db8::1]:8080", host: "[2001:db8::1]", source: .request),
        (configured: nil, request: "example.net", host: "example.net", source: .request),
        (configured: nil, request: "<script>:80", host: "vm", source: .machine),
        (configured: nil, request: nil, host: "vm", source: .machine),
        (configured: "", request: "", host: "vm", source: .machine),
    ] as [(configured: String?, request: String?, host: String, source: IngestEndpoints.HostSource)])
    func ingestHost(_ case: (configured: String?, request: String?, host: String, source: IngestEndpoints.HostSource)) {
        let endpoints = IngestEndpoints(configured: `case`.configured, requestHost: `case`.request, machine: "vm",
                                        rtmpPort: 1935, rtmpsPort: 1936, srtPort: 9000)
        #expect(endpoints.hostSource == `case`.source)
        #expect(endpoints.rtmp == "rtmp://\(`case`.host):1935/live")
        #expect(endpoints.rtmps == "rtmps://\(`case`.host):1936/live")
        #expect(endpoints.srt == "srt://\(`case`.host):9000")
    }

    @Test("a channel whose rundown has a quiz runs in lock-step unless it set its own targets; one without keeps the split defaults")
    func quizChannelsLockstep() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let key = try #require(try server.store.ensureAdminKey())
        _ = try server.createChannel("quiz")
        func targets() async throws -> (settings: [String: Any]?, room: [String: Any]?) {
            let settings = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/quiz/settings", bearer: key).1
            let room = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/quiz/room", bearer: key).1
            return (settings?["syncTargets"] as? [String: Any], room?["sync"] as? [String: Any])
        }
        var now = try await targets()
        #expect(now.settings?["ws"] as? Double == 0.5 && now.settings?["hls"] as? Double == 1.5, "split by default")
        #expect(now.room?["ws"] as? Double == 0.5, "the room (and so hello.snapshot.sync) runs the split targets")

        let rundown = #"{"version":1,"items":[{"id":"r1","kind":"quiz","title":"Capitals","questions":[{"prompt":"Paris?","options":["Yes","No"],"correct":[0],"windowSeconds":10}]}]}"#
        #expect(try await httpRequest(port: server.httpPort, .PUT, "/api/v1/channels/quiz/rundown", bearer: key, body: rundown).0 == 204)
        now = try await targets()
        #expect(now.settings?["ws"] as? Double == 1.5 && now.settings?["hls"] as? Double == 1.5, "a quiz in the rundown: lock-step")
        #expect(now.room?["ws"] as? Double == 1.5 && now.room?["hls"] as? Double == 1.5, "the room was rebuilt in lock-step")

        // Targets of its own win over the default.
        let split = #"{"syncTargets":{"ws":0.5,"hls":1.5}}"#
        #expect(try await httpRequest(port: server.httpPort, .PUT, "/api/v1/channels/quiz/settings", bearer: key, body: split).0 == 200)
        now = try await targets()
        #expect(now.settings?["ws"] as? Double == 0.5 && now.room?["ws"] as? Double == 0.5, "the channel's own split targets")

        #expect(ChannelSettings.defaultSyncTargets(runsQuizzes: true) == .lockstep(1.5))
        #expect(ChannelSettings.defaultSyncTargets(runsQuizzes: false) == SyncTargets(ws: 0.5, hls: 1.5))
        #expect(!ChannelSettings.runsQuizzes(rundown: Data(#"{"items":[{"kind":"poll"}]}"#.utf8)))
        #expect(!ChannelSettings.runsQuizzes(rundown: Data("not json".utf8)))
    }
}
