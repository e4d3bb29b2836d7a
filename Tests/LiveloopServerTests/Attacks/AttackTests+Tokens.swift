import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import NIOCore
import NIOHTTP1
import NIOPosix
import Storage
import Testing

/// Tokens, moderation and the protocol as documented (issue #10, points 6, 7 and 8): each case asserts the refusal
/// and that the bystanders on another channel noticed nothing.
extension AttackTests {
    /// The status of a WebSocket upgrade refused for a missing, bad, revoked or expired token.
    static let unauthorizedUpgrade: Set<Int> = [401]

    static func isUnauthorized(_ refusal: Int?) -> Bool { refusal.map { unauthorizedUpgrade.contains($0) } ?? false }

    /// A token minted over the token API (admin key): the token and its jti.
    func apiToken(_ server: TestServer, adminKey: String, channel: String, sub: String, role: Role,
                  ttl: Int? = nil) async throws -> (token: String, jti: String) {
        let ttlField = ttl.map { #","ttlSeconds":\#($0)"# } ?? ""
        let (status, body) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/channels/\(channel)/tokens", bearer: adminKey,
                                                   body: #"{"role":"\#(role.rawValue)","sub":"\#(sub)"\#(ttlField)}"#)
        #expect(status == 200, "token API: \(String(describing: body))")
        return (try #require(body?["token"] as? String), try #require(body?["tokenID"] as? String))
    }

    func socket(_ server: TestServer, channel: String, token: String?) async throws -> InteractionClient {
        var configuration = InteractionClient.Configuration()
        configuration.reconnect = nil
        configuration.clockSync = nil
        return try await InteractionClient.connect(url: InteractionClient.url(server: "http://127.0.0.1:\(server.httpPort)", channel: channel),
                                                   token: token, configuration: configuration)
    }

    /// The HTTP status a WebSocket upgrade got refused with, or nil when it was accepted (101). Read off the raw
    /// response, so the status is the server's and not a client library's guess.
    func upgradeRefusal(_ server: TestServer, channel: String, token: String?) async -> Int? {
        do {
            let status = try await upgradeStatus(port: server.httpPort, path: "/api/v1/channels/\(channel)/ws", token: token)
            return status == 101 ? nil : status
        } catch {
            return -2
        }
    }

    func upgradeStatus(port: Int, path: String, token: String?) async throws -> Int {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var request = "GET \(path) HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            if let token { request += "Authorization: Bearer \(token)\r\n" }
            request += "\r\n"
            try await outbound.write(ByteBuffer(string: request))
            var received = ""
            for try await var chunk in inbound {
                received += chunk.readString(length: chunk.readableBytes) ?? ""
                if received.contains("\r\n") || received.utf8.count > 4096 { break }
            }
            let fields = received.split(separator: " ", maxSplits: 2)
            return fields.count >= 2 ? Int(fields[1]) ?? 0 : 0
        }
    }

    func post(_ server: TestServer, _ channel: String, _ bearer: String?, _ body: String) async throws -> (Int, [String: Any]?) {
        try await httpRequest(port: server.httpPort, .POST, "/api/v1/channels/\(channel)/messages", bearer: bearer, body: body)
    }

    @Test("a revoked token is refused on WebSocket and REST, its open socket is closed, and a new token works")
    func revokedToken() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }
        _ = try server.createChannel("show")
        let adminKey = try #require(try server.store.ensureAdminKey())
        let (token, jti) = try await apiToken(server, adminKey: adminKey, channel: "show", sub: "mallory", role: .viewer)
        let other = try await apiToken(server, adminKey: adminKey, channel: "show", sub: "mallory", role: .viewer)
        let open = try await socket(server, channel: "show", token: token)
        #expect(try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/room", bearer: token).0 == 200)

        let (revoked, _) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/channels/show/tokens/revoke",
                                                 bearer: adminKey, body: #"{"jti":"\#(jti)"}"#)
        #expect(revoked == 200)
        #expect(await eventually(timeout: .seconds(5)) { !open.isConnected }, "the revoked token's open socket is closed")
        #expect(try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/room", bearer: token).0 == 401)
        #expect(try await post(server, "show", token, #"{"v":1,"type":"chat.send","id":"c","text":"hi"}"#).0 == 401)
        #expect(Self.isUnauthorized(await upgradeRefusal(server, channel: "show", token: token)))
        #expect(try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/room", bearer: other.token).0 == 200,
                "another token of the same user is untouched by a jti revocation")

        // Every token of the sub, then a fresh one for it.
        let second = try await socket(server, channel: "show", token: other.token)
        #expect(try await httpRequest(port: server.httpPort, .POST, "/api/v1/channels/show/tokens/revoke",
                                      bearer: adminKey, body: #"{"sub":"mallory"}"#).0 == 200)
        #expect(await eventually(timeout: .seconds(5)) { !second.isConnected })
        #expect(Self.isUnauthorized(await upgradeRefusal(server, channel: "show", token: other.token)))
        let fresh = try await apiToken(server, adminKey: adminKey, channel: "show", sub: "mallory", role: .viewer)
        #expect(await upgradeRefusal(server, channel: "show", token: fresh.token) == nil, "a token issued after the revocation works")
        #expect(try await httpRequest(port: server.httpPort, .POST, "/api/v1/channels/show/tokens/revoke",
                                      bearer: adminKey, body: #"{"jti":"a","sub":"b"}"#).0 == 400)
        #expect(try await httpRequest(port: server.httpPort, .POST, "/api/v1/channels/show/tokens/revoke",
                                      bearer: fresh.token, body: #"{"all":true}"#).0 == 401, "only the admin key revokes")
        await open.close()
        await second.close()
        try await bystanders.expectUnaffected("after revocations on another channel")
    }

    @Test("the CLI's revocations and rotations, made through the store by another process, reach a running server")
    func revocationFromTheCLI() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }
        _ = try server.createChannel("show")
        let adminKey = try #require(try server.store.ensureAdminKey())
        let viewer = try await apiToken(server, adminKey: adminKey, channel: "show", sub: "eve", role: .viewer)
        let open = try await socket(server, channel: "show", token: viewer.token)
        // What `liveloop tokens revoke --channel show --all` does: its own store and authority on the data directory.
        let cli = try await TokenAuthority(store: SQLiteStore(directory: server.dataDirectory))
        try await cli.revoke(.channel("show"))
        #expect(await eventually(timeout: .seconds(6)) { !open.isConnected }, "the open socket is closed within the sweep")
        #expect(Self.isUnauthorized(await upgradeRefusal(server, channel: "show", token: viewer.token)))
        // What `liveloop tokens rotate-secret --overlap 0` then `liveloop token` do.
        try await Task.sleep(for: .milliseconds(20))
        let before = try await apiToken(server, adminKey: adminKey, channel: "show", sub: "fay", role: .viewer)
        try await cli.rotate(overlap: 0)
        let minted = try await cli.mint(LiveloopClaims(sub: "fay", name: "Fay", role: .viewer, channel: "show",
                                                       expires: Date().addingTimeInterval(600)))
        #expect(await upgradeRefusal(server, channel: "show", token: minted) == nil, "a token of the new secret is accepted at once")
        #expect(await eventually(timeout: .seconds(8)) {
            Self.isUnauthorized(await upgradeRefusal(server, channel: "show", token: before.token))
        }, "the old secret is dropped once the server re-reads the secrets")
        await open.close()
        try await bystanders.expectUnaffected("after revocations and a rotation from the CLI")
    }

    @Test("after a secret rotation an old token works for the overlap only; tokens are hours, not a year")
    func rotatedSecret() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }
        _ = try server.createChannel("show")
        let adminKey = try #require(try server.store.ensureAdminKey())
        let old = try await apiToken(server, adminKey: adminKey, channel: "show", sub: "ada", role: .viewer)
        let (status, body) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/tokens/rotate-secret", bearer: adminKey,
                                                   body: #"{"overlapSeconds":2}"#)
        #expect(status == 200, "\(String(describing: body))")
        let new = try await apiToken(server, adminKey: adminKey, channel: "show", sub: "ada", role: .viewer)
        #expect(await upgradeRefusal(server, channel: "show", token: old.token) == nil, "within the overlap")
        try await Task.sleep(for: .milliseconds(2500))
        #expect(Self.isUnauthorized(await upgradeRefusal(server, channel: "show", token: old.token)), "after the overlap")
        #expect(try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/room", bearer: old.token).0 == 401)
        #expect(await upgradeRefusal(server, channel: "show", token: new.token) == nil)

        // Lifetimes: the default is 4 hours, more than 24 is refused.
        let (_, minted) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/channels/show/tokens", bearer: adminKey,
                                                body: #"{"role":"viewer","sub":"bo"}"#)
        let expiresAt = try #require((minted?["expiresAt"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
        #expect(abs(expiresAt.timeIntervalSinceNow - 4 * 3600) < 60)
        #expect(try await httpRequest(port: server.httpPort, .POST, "/api/v1/channels/show/tokens", bearer: adminKey,
                                      body: #"{"role":"viewer","sub":"bo","ttlSeconds":31536000}"#).0 == 400)
        let longLived = try await server.server.tokens.mint(LiveloopClaims(sub: "bo", name: "bo", role: .viewer, channel: "show",
                                                                           expires: Date().addingTimeInterval(365 * 86_400)))
        #expect(Self.isUnauthorized(await upgradeRefusal(server, channel: "show", token: longLived)), "a token claiming a year is refused")
        try await bystanders.expectUnaffected("after a secret rotation")
    }

    @Test("a banned or timed-out viewer's REST vote and quiz answer are refused like their WebSocket ones")
    func bannedRESTVote() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }
        _ = try server.createChannel("show")
        let adminKey = try #require(try server.store.ensureAdminKey())
        let (_, created) = try await post(server, "show", adminKey, #"{"v":1,"type":"poll.create","id":"c","question":"Q?","options":["a","b"]}"#)
        let pollID = try #require(created?["ref"] as? String)
        #expect(try await post(server, "show", adminKey, #"{"v":1,"type":"poll.launch","id":"l","pollID":"\#(pollID)"}"#).0 == 200)
        let moderator = try await apiToken(server, adminKey: adminKey, channel: "show", sub: "mod", role: .moderator).token
        let banned = try await apiToken(server, adminKey: adminKey, channel: "show", sub: "spammer", role: .viewer).token
        let quiet = try await apiToken(server, adminKey: adminKey, channel: "show", sub: "loud", role: .viewer).token
        let vote = #"{"v":1,"type":"poll.vote","id":"v","pollID":"\#(pollID)","choices":[0]}"#
        #expect(try await post(server, "show", moderator, #"{"v":1,"type":"mod.ban","id":"b","sub":"spammer"}"#).0 == 200)
        #expect(try await post(server, "show", moderator, #"{"v":1,"type":"mod.timeout","id":"t","sub":"loud","seconds":60}"#).0 == 200)
        let (status, reply) = try await post(server, "show", banned, vote)
        #expect(status == 403)
        #expect(reply?["code"] as? String == "banned")
        let (timedStatus, timedReply) = try await post(server, "show", quiet, vote)
        #expect(timedStatus == 403)
        #expect(timedReply?["code"] as? String == "timed_out")
        #expect(try await post(server, "show", banned, #"{"v":1,"type":"reaction","id":"r","emoji":"🔥"}"#).1?["code"] as? String == "banned")
        let (_, room) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/room", bearer: adminKey)
        let polls = try #require(room?["polls"] as? [[String: Any]])
        #expect((polls.first?["results"] as? [String: Any])?["ballots"] as? Int == 0, "no ballot was counted")
        try await bystanders.expectUnaffected("after refused votes on another channel")
    }

    @Test("after a restart a moderator cannot ban or time out the admin key or a host; the host and admin still act")
    func moderatorCannotLockOutOperator() async throws {
        let data = NSTemporaryDirectory() + "liveloop-lockout-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try await TestServer.start(dataDirectory: data)
        _ = try first.createChannel("show")
        let adminKey = try #require(try first.store.ensureAdminKey())
        let host = try await apiToken(first, adminKey: adminKey, channel: "show", sub: "hana", role: .host).token
        #expect(try await post(first, "show", host, #"{"v":1,"type":"poll.create","id":"c","question":"Q?","options":["a","b"]}"#).0 == 200)
        await first.stop(keepingData: true)

        let server = try await TestServer.start(dataDirectory: data)
        defer { Task { await server.stop(keepingData: true) } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }
        let moderator = try await apiToken(server, adminKey: adminKey, channel: "show", sub: "mo", role: .moderator).token
        let newHost = try await apiToken(server, adminKey: adminKey, channel: "show", sub: "hal", role: .host).token
        for body in [#"{"v":1,"type":"mod.ban","id":"b","sub":"admin"}"#, #"{"v":1,"type":"mod.timeout","id":"t","sub":"admin","seconds":600}"#,
                     #"{"v":1,"type":"mod.ban","id":"b","sub":"hana"}"#] {
            let (status, reply) = try await post(server, "show", moderator, body)
            #expect(status == 403, "\(body)")
            #expect(reply?["code"] as? String == "forbidden")
        }
        // A host the room has never seen: the ban is recorded with the moderator's role and does not hold the host.
        _ = try await post(server, "show", moderator, #"{"v":1,"type":"mod.ban","id":"b2","sub":"hal"}"#)
        _ = try await post(server, "show", moderator, #"{"v":1,"type":"mod.timeout","id":"t2","sub":"hal","seconds":600}"#)
        for bearer in [adminKey, host, newHost] {
            #expect(try await post(server, "show", bearer, #"{"v":1,"type":"poll.create","id":"c","question":"Still?","options":["a","b"]}"#).0 == 200)
        }
        let hostSocket = try await socket(server, channel: "show", token: newHost)
        #expect(hostSocket.identity?.role == .host)
        try await hostSocket.perform(.chatSend(.init(text: "still hosting")))
        await hostSocket.close()
        #expect(await upgradeRefusal(server, channel: "show", token: adminKey) == nil)
        try await bystanders.expectUnaffected("after a moderator tried to lock out the operator")
    }

    @Test("a channel created with defaults refuses guests on the WebSocket and REST; its settings can allow them")
    func guestsRefusedByDefault() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }
        _ = try server.createChannel("show")
        let adminKey = try #require(try server.store.ensureAdminKey())
        let guestRefusal = await upgradeRefusal(server, channel: "show", token: nil)
        #expect(Self.isUnauthorized(guestRefusal), "got \(String(describing: guestRefusal))")
        #expect(try await post(server, "show", nil, #"{"v":1,"type":"reaction","id":"r","emoji":"🔥"}"#).0 == 401)
        #expect(try await httpRequest(port: server.httpPort, .PUT, "/api/v1/channels/show/settings", bearer: adminKey,
                                      body: #"{"allowAnonymous":true}"#).0 == 200)
        let guest = try await socket(server, channel: "show", token: nil)
        #expect(guest.identity?.role == .guest)
        await guest.close()
        try await bystanders.expectUnaffected("after guests were refused on another channel")
    }

    @Test("REST messages take the same per-user rate limits as the WebSocket, plus a per-user request bucket")
    func restRateLimits() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }
        _ = try server.createChannel("show")
        let adminKey = try #require(try server.store.ensureAdminKey())
        let viewer = try await apiToken(server, adminKey: adminKey, channel: "show", sub: "chatty", role: .viewer).token
        // The chat bucket (burst 5) is the user's, whichever way the messages come.
        let ws = try await socket(server, channel: "show", token: viewer)
        for i in 0..<3 { try await ws.perform(.chatSend(.init(text: "ws \(i)"))) }
        var statuses: [Int] = []
        for i in 0..<3 {
            statuses.append(try await post(server, "show", viewer, #"{"v":1,"type":"chat.send","id":"c\#(i)","text":"rest \#(i)"}"#).0)
        }
        #expect(statuses == [200, 200, 429])
        let (_, limited) = try await post(server, "show", viewer, #"{"v":1,"type":"chat.send","id":"c9","text":"again"}"#)
        #expect(limited?["code"] as? String == "rate_limited")
        await ws.close()
        // Requests without a bucket of their own (ping) still meet the per-user REST bucket (burst 40).
        let other = try await apiToken(server, adminKey: adminKey, channel: "show", sub: "pinger", role: .viewer).token
        var codes: [Int] = []
        for i in 0..<70 { codes.append(try await post(server, "show", other, #"{"v":1,"type":"ping","id":"p\#(i)"}"#).0) }
        #expect(codes.prefix(40).allSatisfy { $0 == 200 })
        #expect(codes.contains(429))
        try await bystanders.expectUnaffected("after a REST flood on another channel")
    }

    @Test("GET settings shows the effective settings, defaults included; ?stored=true only what was set")
    func settingsShowDefaults() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }
        _ = try server.createChannel("show")
        let adminKey = try #require(try server.store.ensureAdminKey())
        let port = server.httpPort
        let (status, settings) = try await httpRequest(port: port, .GET, "/api/v1/channels/show/settings", bearer: adminKey)
        #expect(status == 200)
        #expect(settings?["allowAnonymous"] as? Bool == false)
        #expect(settings?["slowModeSeconds"] as? Int == 0)
        #expect(settings?["maxMessageLength"] as? Int == 500)
        #expect((settings?["allowedReactions"] as? [String])?.count == 6)
        #expect(((settings?["rateLimits"] as? [String: Any])?["chat"] as? [String: Any])?["burst"] as? Int == 5)
        #expect((settings?["syncTargets"] as? [String: Any])?["ws"] as? Double == 0.5)
        #expect(settings?["maxDisplayLatency"] as? Double == 3)
        #expect(try await httpRequest(port: port, .PUT, "/api/v1/channels/show/settings", bearer: adminKey,
                                      body: #"{"slowModeSeconds":5}"#).0 == 200)
        let (_, after) = try await httpRequest(port: port, .GET, "/api/v1/channels/show/settings", bearer: adminKey)
        #expect(after?["slowModeSeconds"] as? Int == 5)
        #expect(after?["maxMessageLength"] as? Int == 500)
        let (_, stored) = try await httpRequest(port: port, .GET, "/api/v1/channels/show/settings?stored=true", bearer: adminKey)
        #expect(stored?.keys.sorted() == ["allowAnonymous", "slowModeSeconds"] || stored?.keys.sorted() == ["slowModeSeconds"])
        #expect(try await httpRequest(port: port, .GET, "/api/v1/channels/show/settings", bearer: nil).0 == 401)
        try await bystanders.expectUnaffected("after settings reads on another channel")
    }

    @Test("the data directory is 0700 and the database files 0600")
    func dataDirectoryPermissions() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let bystanders = try await Bystanders.start(on: server)
        defer { Task { await bystanders.stop() } }
        func mode(_ path: String) throws -> Int {
            ((try FileManager.default.attributesOfItem(atPath: path))[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }
        #expect(try mode(server.dataDirectory) == 0o700)
        let files = try FileManager.default.contentsOfDirectory(atPath: server.dataDirectory).filter { $0.hasPrefix("liveloop.sqlite") }
        #expect(files.contains("liveloop.sqlite-wal") && files.contains("liveloop.sqlite-shm"))
        for file in files {
            #expect(try mode(server.dataDirectory + "/" + file) == 0o600, "\(file)")
        }
        try await bystanders.expectUnaffected()
    }
}
