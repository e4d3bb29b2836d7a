import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import NIOHTTP1
import PostgresNIO
import Storage
import Synchronization
import Testing

/// `liveloop serve --database`: the real binary on the test PostgreSQL (`LIVELOOP_TEST_POSTGRES`, a fresh database
/// per test), killed with SIGKILL and started again on the same database; a run without `--database` on SQLite; and a
/// database that does not answer.
@Suite("serve on PostgreSQL (--database)", .serialized)
struct PostgresServeTests {
    static var binary: String { ConfigFileTests.binary }
    static var ready: Bool { ConfigFileTests.haveBinary && Tools.haveFFmpeg }

    /// A server process with its standard error in a file (to read what it logged).
    struct Server {
        let process: Process
        let httpPort: Int
        let rtmpPort: Int
        let errors: String

        static func start(data: String, database: String?, extra: [String] = []) throws -> Server {
            let http = LiveloopBinary.freePort(), rtmp = LiveloopBinary.freePort()
            let errors = data + "-stderr-\(UUID().uuidString).log"
            _ = FileManager.default.createFile(atPath: errors, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: PostgresServeTests.binary)
            process.arguments = [
                "serve", "--data", data, "--host", "127.0.0.1", "--http-port", "\(http)", "--rtmp-port", "\(rtmp)",
                "--srt-port", "0", "--webrtc-port", "0", "--webhook-allow-private", "--log-level", "info",
            ] + (database.map { ["--database", $0] } ?? []) + extra
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle(forWritingAtPath: errors)
            try ProcessLaunch.run(process)
            return Server(process: process, httpPort: http, rtmpPort: rtmp, errors: errors)
        }

        func waitUntilHealthy() async -> Bool {
            await eventually(timeout: .seconds(30)) {
                (try? await httpRequest(port: httpPort, .GET, "/healthz", bearer: nil))?.0 == 200
            }
        }

        var log: String { (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "" }

        func kill() {
            if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: errors)
        }
    }

    /// Runs `body` with the URL of a fresh database on the test server (the password added to the URL is not needed
    /// by the test server's trust authentication, but must never be printed), dropped after.
    static func withDatabase(_ body: (String) async throws -> Void) async throws {
        guard let base = try DatabaseCLITests.postgresURL() else { return }
        let name = "serve" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try await administer(base, "CREATE DATABASE \(name)")
        var components = try #require(URLComponents(string: base))
        components.path = "/" + name
        components.password = "hunter2-secret"
        let url = try #require(components.string)
        do {
            try await body(url)
        } catch {
            try? await administer(base, "DROP DATABASE \(name) WITH (FORCE)")
            throw error
        }
        try await administer(base, "DROP DATABASE \(name) WITH (FORCE)")
    }

    /// One statement on the server's base database (CREATE/DROP DATABASE run outside a transaction).
    static func administer(_ url: String, _ sql: String) async throws {
        let client = PostgresClient(configuration: try PostgresURL.configuration(url))
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        try await client.query(PostgresQuery(unsafeSQL: sql))
    }

    static func json(_ value: Any?) -> [String: Any] { value as? [String: Any] ?? [:] }

    @Test("a channel, its settings, a webhook and every acknowledged vote survive SIGKILL: the restarted server reads them from PostgreSQL",
          .enabled(if: ready, "needs the built liveloop binary and ffmpeg"))
    func survivesKill() async throws {
        try await Self.withDatabase { url in
            let data = NSTemporaryDirectory() + "liveloop-pgserve-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: data) }
            // The CLI on the same database makes the admin key (so the server prints none).
            let (rotated, keyOut, keyErrors) = try await Tools.output(Self.binary, ["admin-key", "rotate", "--database", url, "--data", data])
            #expect(rotated == 0, "\(keyErrors)")
            let admin = keyOut.trimmingCharacters(in: .whitespacesAndNewlines)
            let receiver = try await WebhookReceiver.start()
            defer { Task { await receiver.stop() } }

            // One node restarted under its name (as a deployment's fixed host and port give it): it finds its own
            // claim on the channel it published before the kill, and takes it back at once.
            var server = try Server.start(data: data, database: url, extra: ["--node-id", "pg-node"])
            defer { server.kill() }
            #expect(await server.waitUntilHealthy(), "\(server.log)")
            let startLog = server.log
            #expect(startLog.contains("PostgreSQL at ") && startLog.contains(":***@"), "the database is named, masked: \(startLog)")
            #expect(!startLog.contains("hunter2"), "the password is never logged")

            // A channel through the API, with interaction and video settings and a webhook.
            let (created, channel) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/channels", bearer: admin,
                                                           body: #"{"name":"show"}"#)
            #expect(created == 201)
            let streamKey = try #require(channel?["streamKey"] as? String)
            let (settingsSaved, _) = try await httpRequest(port: server.httpPort, .PUT, "/api/v1/channels/show/settings", bearer: admin,
                                                           body: #"{"slowModeSeconds":3,"filterWords":["spoiler"]}"#)
            #expect(settingsSaved == 200)
            let (videoSaved, _) = try await httpRequest(port: server.httpPort, .PUT, "/api/v1/channels/show/video", bearer: admin,
                                                        body: #"{"record":true}"#)
            #expect(videoSaved == 200)
            let (hookCreated, hook) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/webhooks", bearer: admin,
                                                            body: #"{"url":"\#(receiver.url)","events":["stream.started"]}"#)
            #expect(hookCreated == 201)
            let hookID = try #require(hook?["id"] as? String)
            receiver.configure(secret: try #require(hook?["secret"] as? String))

            // Publish with ffmpeg: the stream key is found in PostgreSQL, the webhook hears the start.
            var publisher = try Tools.publish(to: "rtmp://127.0.0.1:\(server.rtmpPort)/live/\(streamKey)", frames: 30 * 60)
            defer { if publisher.isRunning { publisher.terminate() } }
            let live = { (port: Int) async -> Bool in
                await eventually(timeout: .seconds(20)) {
                    Self.json(try? await httpRequest(port: port, .GET, "/api/v1/channels/show", bearer: admin).1)["live"] as? Bool == true
                }
            }
            #expect(await live(server.httpPort), "the publish is accepted")
            #expect(await eventually(timeout: .seconds(15)) { receiver.deliveries(ofType: "stream.started").count == 1 })

            // A poll, and viewers voting over WebSocket: each vote is acknowledged once it is committed.
            func token(_ sub: String, _ role: String, port: Int) async throws -> String {
                let (_, minted) = try await httpRequest(port: port, .POST, "/api/v1/channels/show/tokens", bearer: admin,
                                                        body: #"{"sub":"\#(sub)","role":"\#(role)"}"#)
                return try #require(minted?["token"] as? String)
            }
            var configuration = InteractionClient.Configuration()
            configuration.clockSync = nil
            configuration.reconnect = nil
            let address = InteractionClient.url(server: "http://127.0.0.1:\(server.httpPort)", channel: "show")
            let host = try await InteractionClient.connect(url: address, token: try await token("host-1", "host", port: server.httpPort),
                                                           configuration: configuration)
            let pollID = try #require(try await host.perform(.pollCreate(.init(question: "Tea or coffee?", options: ["tea", "coffee"]))).ref)
            try await host.perform(.pollLaunch(.init(pollID: pollID)))
            var viewers: [InteractionClient] = []
            for index in 0..<12 {
                viewers.append(try await InteractionClient.connect(
                    url: address, token: try await token("voter-\(index)", "viewer", port: server.httpPort), configuration: configuration))
            }
            var acked = [0, 0]
            for (index, viewer) in viewers.enumerated() {
                let choice = index % 3 == 0 ? 0 : 1
                if case .ack = try await viewer.send(.pollVote(.init(pollID: pollID, choices: [choice]))).message { acked[choice] += 1 }
            }
            #expect(acked == [4, 8])

            // SIGKILL: nothing is flushed, nothing is said goodbye to.
            server.kill()
            for viewer in viewers { await viewer.close() }
            await host.close()
            publisher.terminate()

            server = try Server.start(data: data, database: url, extra: ["--node-id", "pg-node"])
            #expect(await server.waitUntilHealthy(), "\(server.log)")
            #expect(!FileManager.default.fileExists(atPath: data + "/liveloop.sqlite"), "no SQLite database with --database")
            let (_, room) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/room", bearer: admin)
            let poll = (room?["polls"] as? [[String: Any]])?.first { $0["pollID"] as? String == pollID }
            #expect(Self.json(poll?["results"])["counts"] as? [Int] == acked, "every acknowledged vote is in the tally: \(String(describing: room))")
            let (_, stored) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/settings?stored=true", bearer: admin)
            #expect(stored?["slowModeSeconds"] as? Int == 3 && stored?["filterWords"] as? [String] == ["spoiler"])
            let (_, video) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/video", bearer: admin)
            #expect(video?["record"] as? Bool == true)
            let (_, hooks) = try await httpJSON(port: server.httpPort, .GET, "/api/v1/webhooks", bearer: admin)
            #expect((hooks as? [[String: Any]])?.map { $0["id"] as? String } == [hookID])
            // A second ballot from a voter who was acknowledged is refused: the restarted room knows the first.
            let again = try await InteractionClient.connect(
                url: InteractionClient.url(server: "http://127.0.0.1:\(server.httpPort)", channel: "show"),
                token: try await token("voter-0", "viewer", port: server.httpPort), configuration: configuration)
            if case .error(let error) = try await again.send(.pollVote(.init(pollID: pollID, choices: [1]))).message {
                #expect(error.code == .alreadyVoted)
            } else {
                Issue.record("a second ballot was accepted after the restart")
            }
            await again.close()

            // The same stream key publishes again, and the same webhook (same secret) hears it.
            publisher = try Tools.publish(to: "rtmp://127.0.0.1:\(server.rtmpPort)/live/\(streamKey)", frames: 30 * 30)
            #expect(await live(server.httpPort), "the stream key from PostgreSQL is accepted after the restart")
            #expect(await eventually(timeout: .seconds(15)) { receiver.deliveries(ofType: "stream.started").count == 2 })
            let signed = receiver.deliveries(ofType: "stream.started").filter { $0.verified }.count
            #expect(signed == 2, "signed with the webhook's stored secret")
            publisher.terminate()
        }
    }

    @Test("with --demo on PostgreSQL the demo channel is made there; without --database the server uses SQLite in --data",
          .enabled(if: ConfigFileTests.haveBinary))
    func demoAndSQLite() async throws {
        try await Self.withDatabase { url in
            let data = NSTemporaryDirectory() + "liveloop-pgserve-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: data) }
            let server = try Server.start(data: data, database: url, extra: ["--demo"])
            defer { server.kill() }
            #expect(await server.waitUntilHealthy(), "\(server.log)")
            let store = try await PostgresStore(url: url, connections: 1)
            // The demo channel is made as the ingest starts, about when the server turns healthy.
            let made = await eventually(timeout: .seconds(10)) { (try? await store.channelSettings(channel: "demo")) ?? nil != nil }
            let demo = try await store.channel(named: "demo")
            await store.close()
            #expect(made && demo?.allowAnonymous == true, "the demo channel is in PostgreSQL, open to guests")
            server.kill()
            #expect(!FileManager.default.fileExists(atPath: data + "/liveloop.sqlite"))

            let sqlite = try Server.start(data: data, database: nil)
            defer { sqlite.kill() }
            #expect(await sqlite.waitUntilHealthy(), "\(sqlite.log)")
            #expect(FileManager.default.fileExists(atPath: data + "/liveloop.sqlite"), "without --database: SQLite in --data")
            let (status, out, _) = try await Tools.output(Self.binary, ["channels", "list", "--data", data])
            #expect(status == 0 && !out.contains("demo"), "PostgreSQL's channels are not in SQLite: \(out)")
        }
    }

    @Test("a database that does not answer at start: a clear error naming it (password hidden), a non-zero exit, no SQLite instead",
          .enabled(if: ConfigFileTests.haveBinary))
    func unreachable() async throws {
        let data = NSTemporaryDirectory() + "liveloop-pgserve-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: data) }
        let started = ContinuousClock.now
        // Port 1 on loopback: nothing listens, every connection is refused.
        let (status, _, errors) = try await Tools.output(Self.binary, [
            "serve", "--data", data, "--host", "127.0.0.1", "--http-port", "0", "--rtmp-port", "0", "--srt-port", "0", "--webrtc-port", "0",
            "--database", "postgres://liveloop:hunter2@127.0.0.1:1/liveloop",
        ])
        #expect(status == 69, "exit status \(status): \(errors)")
        #expect(errors.contains("cannot open the database postgres://liveloop:***@127.0.0.1:1/liveloop"), "\(errors)")
        #expect(errors.contains("no answer from PostgreSQL"), "\(errors)")
        #expect(!errors.contains("hunter2"), "the password is never printed")
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(!FileManager.default.fileExists(atPath: data + "/liveloop.sqlite"), "SQLite is not opened instead")

        let (badStatus, _, badErrors) = try await Tools.output(Self.binary, ["serve", "--data", data, "--database", "mysql://x@y/z"])
        #expect(badStatus == 64 && badErrors.contains("invalid database URL"), "\(badErrors)")
    }
}
