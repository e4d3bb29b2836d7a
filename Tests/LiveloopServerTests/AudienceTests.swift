import Foundation
import Interaction
import JWTKit
import LiveloopClient
import NIOHTTP1
import Testing
@testable import LiveloopServer
import Storage

/// Joining without a host's token, channel signing keys, audience settings and members-only playback
/// (docs/embedding.md), against a real server.
@Suite("audience")
struct AudienceTests {
    // MARK: pure parts

    @Test("the playlist rewriter puts the playback token on every URI line and URI attribute, and only there")
    func playlistRewrite() {
        let playlist = """
            #EXTM3U
            #EXT-X-VERSION:9
            #EXT-X-MAP:URI="init0.mp4"
            #EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z
            #EXT-X-PART:DURATION=0.2,URI="part7.0.m4s",INDEPENDENT=YES
            #EXTINF:1.0,
            seg7.m4s
            #EXT-X-PRELOAD-HINT:TYPE=PART,URI="part8.1.m4s"
            #EXT-X-RENDITION-REPORT:URI="media.m3u8?_HLS_msn=8",LAST-MSN=8
            https://cdn.example/other.m4s
            """
        let out = PlaylistTokenRewriter.rewrite(playlist, name: "pt", token: "abc.def")
        #expect(out.contains(#"#EXT-X-MAP:URI="init0.mp4?pt=abc.def""#))
        #expect(out.contains(#"URI="part7.0.m4s?pt=abc.def",INDEPENDENT=YES"#))
        #expect(out.contains("\nseg7.m4s?pt=abc.def\n"))
        #expect(out.contains(#"URI="part8.1.m4s?pt=abc.def""#))
        #expect(out.contains(#"URI="media.m3u8?_HLS_msn=8&pt=abc.def""#))
        #expect(out.contains("\nhttps://cdn.example/other.m4s"), "another host's URI is left alone")
        #expect(out.contains("#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z\n"))
        #expect(PlaylistTokenRewriter.rewrite(out, name: "pt", token: "abc.def") == out, "a token already there is not added twice")
    }

    @Test("display names: staff words, look-alikes, the channel's name, staff names and the word filter are refused",
          arguments: [
              ("Host", DisplayNamePolicy.Refusal.impersonation), ("H0ST", .impersonation), ("the_host", .impersonation),
              ("Hôst", .impersonation), ("TheModerator", .impersonation), ("admin", .impersonation),
              ("Show Official", .impersonation), ("showtime", .impersonation), ("Real Hal 9000", .impersonation),
              ("darn it", .blockedWord), ("", .length), ("   ", .length), (String(repeating: "a", count: 33), .length),
              ("<script>", .characters), ("evil\u{202E}", .characters), ("a\u{200B}b", .characters),
          ])
    func refusedNames(name: String, refusal: DisplayNamePolicy.Refusal) {
        let policy = DisplayNamePolicy(filterWords: ["darn"], channel: "showtime", staffNames: ["Hal"])
        #expect(throws: refusal) { try policy.check(name) }
    }

    @Test("ordinary display names are taken, with their spaces tidied", arguments: ["Ada", "Zoë", "Ghostface", "O'Brien", "李小龍", "  Ada   Lovelace "])
    func acceptedNames(name: String) throws {
        let policy = DisplayNamePolicy(filterWords: ["darn"], channel: "showtime", staffNames: ["Hal"])
        let shown = try policy.check(name)
        #expect(!shown.hasPrefix(" ") && !shown.contains("  "))
    }

    @Test("the per-address limiter lets a burst through, then refuses, and stays bounded under many addresses")
    func addressLimiter() {
        let limiter = AddressRateLimiter(limit: .init(burst: 3, perSecond: 0.5), capacity: 4)
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        #expect((0..<3).allSatisfy { _ in limiter.admit("10.0.0.1", at: t0) })
        #expect(!limiter.admit("10.0.0.1", at: t0))
        #expect(limiter.admit("10.0.0.2", at: t0), "another address has its own bucket")
        #expect(limiter.admit("10.0.0.1", at: t0.addingTimeInterval(2.1)), "the bucket refills")
        // A flood from many addresses shares the overflow bucket once the table is full of busy ones.
        let flood = (0..<50).filter { limiter.admit("192.0.2.\($0)", at: t0.addingTimeInterval(2.2)) }.count
        #expect(flood < 10)
    }

    @Test("audience settings: origins, colours, logos and fonts that could break a page are refused")
    func audienceValidation() {
        func refused(_ change: (inout ChannelAudience) -> Void) -> Bool {
            var audience = ChannelAudience()
            change(&audience)
            return (try? audience.validate()) == nil
        }
        #expect(!refused { $0.allowedOrigins = ["https://shop.example", "http://localhost:8080"] })
        #expect(refused { $0.allowedOrigins = ["https://shop.example/"] })
        #expect(refused { $0.allowedOrigins = ["https://shop.example/path"] })
        #expect(refused { $0.allowedOrigins = ["javascript:alert(1)"] })
        #expect(refused { $0.allowedOrigins = ["*"] })
        #expect(refused { $0.branding.accent = "red; background: url(x)" })
        #expect(!refused { $0.branding.accent = "#ff3366" })
        #expect(refused { $0.branding.logoURL = "http://insecure.example/logo.png" })
        #expect(refused { $0.branding.logoURL = "https://x.example/a.png) ; --x: (" })
        #expect(!refused { $0.branding.logoURL = "/assets/favicon.svg" })
        #expect(refused { $0.branding.font = "x; } body { display: none" })
        #expect(!refused { $0.branding.font = "\"Inter\", system-ui, sans-serif" })
    }

    // MARK: the API

    static func post(_ server: TestServer, _ path: String, bearer: String? = nil, _ body: String = "{}") async throws -> (Int, [String: Any]?) {
        try await httpRequest(port: server.httpPort, .POST, path, bearer: bearer, body: body)
    }

    static func errorCode(_ body: [String: Any]?) -> String? { (body?["error"] as? [String: Any])?["code"] as? String }

    /// Who the room takes the holder of `token` for: the author of a chat message sent with it.
    static func author(_ server: TestServer, channel: String, token: String) async throws -> (sub: String, name: String)? {
        let text = "hello \(UUID().uuidString.prefix(8))"
        let (status, _) = try await post(server, "/api/v1/channels/\(channel)/messages", bearer: token, #"{"v":1,"type":"chat.send","text":"\#(text)"}"#)
        guard status == 200 else { return nil }
        let (_, snapshot) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/\(channel)/room", bearer: token)
        guard let message = (snapshot?["chat"] as? [[String: Any]])?.last(where: { $0["text"] as? String == text }),
              let sub = message["sub"] as? String, let name = message["name"] as? String else { return nil }
        return (sub, name)
    }

    @Test("open join: a name gets a viewer token at once, the same sub on renewal, and refusals carry JSON bodies")
    func openJoin() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("show")
        let (pageStatus, page) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/page", bearer: nil)
        #expect(pageStatus == 200 && page?["join"] as? String == "open" && page?["private"] as? Bool == false)
        let (missing, missingBody) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/nope/page", bearer: nil)
        #expect(missing == 404 && Self.errorCode(missingBody) == "not_found")

        let (status, joined) = try await Self.post(server, "/api/v1/channels/show/join", #"{"name":"  Ada  "}"#)
        #expect(status == 200)
        let token = try #require(joined?["token"] as? String)
        let sub = try #require(joined?["sub"] as? String)
        #expect(sub.hasPrefix("open-") && joined?["name"] as? String == "Ada")
        // The token is a viewer's: the room takes its chat as Ada's.
        let author = try await Self.author(server, channel: "show", token: token)
        #expect(author?.sub == sub && author?.name == "Ada")

        // Renewal keeps the sub and the name.
        let (renewStatus, renewed) = try await Self.post(server, "/api/v1/channels/show/join", bearer: token)
        #expect(renewStatus == 200 && renewed?["sub"] as? String == sub && renewed?["name"] as? String == "Ada")
        #expect(renewed?["token"] as? String != token)
        // A token that is not a joined viewer's is not renewed here.
        let operatorToken = try await server.server.tokens.mint(LiveloopClaims(sub: "vip", name: "VIP", role: .viewer, channel: "show", expires: Date().addingTimeInterval(600)))
        let (notOurs, notOursBody) = try await Self.post(server, "/api/v1/channels/show/join", bearer: operatorToken)
        #expect(notOurs == 401 && Self.errorCode(notOursBody) == "unauthorized")

        let (reserved, reservedBody) = try await Self.post(server, "/api/v1/channels/show/join", #"{"name":"H0st"}"#)
        #expect(reserved == 400 && Self.errorCode(reservedBody) == "name_reserved")
        let (empty, emptyBody) = try await Self.post(server, "/api/v1/channels/show/join", "{}")
        #expect(empty == 400 && Self.errorCode(emptyBody) == "invalid_name")
        let (noChannel, noChannelBody) = try await Self.post(server, "/api/v1/channels/nope/join", #"{"name":"Ada"}"#)
        #expect(noChannel == 404 && Self.errorCode(noChannelBody) == "not_found")
    }

    @Test("joins are rate-limited per address with a 429 and Retry-After")
    func joinRateLimit() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("show")
        var statuses: [Int] = []
        var last: [String: Any]?
        for index in 0..<7 {
            let (status, body) = try await Self.post(server, "/api/v1/channels/show/join", #"{"name":"Viewer \#(index)"}"#)
            statuses.append(status)
            last = body
        }
        #expect(statuses.prefix(5).allSatisfy { $0 == 200 }, "\(statuses)")
        #expect(statuses.last == 429 && Self.errorCode(last) == "rate_limited")
    }

    @Test("the public channel list leaves members-only channels out, filters by tenant, and bounds its length")
    func publicList() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let adminKey = try #require(try server.store.ensureAdminKey())
        let port = server.httpPort
        _ = try server.createChannel("open-house")
        _ = try server.createChannel("members")
        let (tenantStatus, tenantBody) = try await httpRequest(port: port, .POST, "/api/v1/tenants", bearer: adminKey, body: #"{"name":"acme"}"#)
        #expect(tenantStatus == 201)
        let acme = try #require(tenantBody?["id"] as? String)
        let (made, _) = try await httpRequest(port: port, .POST, "/api/v1/channels", bearer: adminKey,
                                              body: #"{"name":"acme-show","tenant":"\#(acme)"}"#)
        #expect(made == 201)
        func listed(_ query: String = "") async throws -> [String] {
            let (status, body) = try await httpJSON(port: port, .GET, "/api/v1/live\(query)", bearer: nil)
            #expect(status == 200)
            return ((body as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }.sorted()
        }
        #expect(try await listed() == ["acme-show", "members", "open-house"])
        let (locked, _) = try await httpRequest(port: port, .PUT, "/api/v1/channels/members/audience", bearer: adminKey, body: #"{"private":true}"#)
        #expect(locked == 200)
        #expect(try await listed() == ["acme-show", "open-house"], "a members-only channel is not advertised")
        #expect(try await listed("?tenant=\(acme)") == ["acme-show"])
        #expect(try await listed("?tenant=tn_nobody").isEmpty)
        #expect(try await listed("?limit=1").count == 1)
        for bad in ["0", "201", "many"] {
            let (status, body) = try await httpRequest(port: port, .GET, "/api/v1/live?limit=\(bad)", bearer: nil)
            #expect(status == 400 && Self.errorCode(body) == "bad_request", "limit=\(bad): \(status)")
        }
    }

    @Test("the join mode, members-only and branding are set over the API; bad changes are refused and change nothing")
    func audienceAPI() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("show")
        let adminKey = try #require(try server.store.ensureAdminKey())
        let port = server.httpPort
        let (anonymous, anonymousBody) = try await httpRequest(port: port, .GET, "/api/v1/channels/show/audience", bearer: nil)
        #expect(anonymous == 401 && Self.errorCode(anonymousBody) == "unauthorized")
        let viewer = try await server.server.tokens.mint(LiveloopClaims(sub: "v", name: "v", role: .viewer, channel: "show", expires: Date().addingTimeInterval(600)))
        let (asViewer, _) = try await httpRequest(port: port, .PUT, "/api/v1/channels/show/audience", bearer: viewer, body: #"{"join":"signed"}"#)
        #expect(asViewer == 403)

        for bad in [#"{"join":"everyone"}"#, #"{"private":"yes"}"#, #"{"allowedOrigins":["https://a.example/x"]}"#,
                    #"{"branding":{"accent":"red"}}"#, ##"{"colour":"#fff"}"##, "[]"] {
            let (status, body) = try await httpRequest(port: port, .PUT, "/api/v1/channels/show/audience", bearer: adminKey, body: bad)
            #expect(status == 400 && Self.errorCode(body) == "bad_request", "\(bad): \(status)")
        }
        let (unchanged, unchangedBody) = try await httpRequest(port: port, .GET, "/api/v1/channels/show/audience", bearer: adminKey)
        #expect(unchanged == 200 && unchangedBody?["join"] as? String == "open" && unchangedBody?["signingKey"] is NSNull || unchangedBody?["signingKey"] == nil)

        let (saved, savedBody) = try await httpRequest(port: port, .PUT, "/api/v1/channels/show/audience", bearer: adminKey,
            body: ##"{"join":"signed","allowedOrigins":["http://127.0.0.1:9999"],"branding":{"accent":"#ff3366","font":"Georgia, serif"}}"##)
        #expect(saved == 200 && savedBody?["join"] as? String == "signed")
        let (_, page) = try await httpRequest(port: port, .GET, "/api/v1/channels/show/page", bearer: nil)
        #expect((page?["branding"] as? [String: Any])?["accent"] as? String == "#ff3366")
        #expect(page?["allowedOrigins"] as? [String] == ["http://127.0.0.1:9999"])
        let (closed, closedBody) = try await Self.post(server, "/api/v1/channels/show/join", #"{"name":"Ada"}"#)
        #expect(closed == 403 && Self.errorCode(closedBody) == "join_closed")

        // Guests only: nobody joins, and the room lets guests in.
        let (_, _) = try await httpRequest(port: port, .PUT, "/api/v1/channels/show/audience", bearer: adminKey, body: #"{"join":"guests"}"#)
        let (guestPage, guestPageBody) = try await httpRequest(port: port, .GET, "/api/v1/channels/show/page", bearer: nil)
        #expect(guestPage == 200 && guestPageBody?["guestsAllowed"] as? Bool == true && guestPageBody?["join"] as? String == "guests")
        let (watchOnly, watchOnlyBody) = try await Self.post(server, "/api/v1/channels/show/join", #"{"name":"Ada"}"#)
        #expect(watchOnly == 403 && Self.errorCode(watchOnlyBody) == "join_closed")

        // The embed may be framed only by the allowed origins.
        let embed = try await server.get("/embed/show")
        #expect(embed.status == 200)
        let csp = embed.headers.first { $0.0.lowercased() == "content-security-policy" }?.1 ?? ""
        #expect(csp.contains("frame-ancestors 'self' http://127.0.0.1:9999"), "\(csp)")
        let sdk = try await server.get("/sdk/liveloop.js")
        #expect(sdk.status == 200 && sdk.headers.contains { $0.0.lowercased() == "access-control-allow-origin" && $0.1 == "*" })
    }

    /// A token as the customer's backend would mint it: HS256 with the channel key's secret, `kid` = the key's id.
    static func customerToken(key: ChannelSigningKey, channel: String, sub: String?, name: String? = nil, scope: String? = nil,
                              lifetime: TimeInterval = 600) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: key.secret), digestAlgorithm: .sha256, kid: JWKIdentifier(string: key.id))
        let now = Date()
        return try await keys.sign(ChannelKeyClaims(sub: sub, name: name, channel: channel, scope: scope, expires: now.addingTimeInterval(lifetime),
                                                    issuedAt: now), kid: JWKIdentifier(string: key.id))
    }

    static func signingKey(_ server: TestServer, _ channel: String, adminKey: String) async throws -> ChannelSigningKey {
        let (status, body) = try await Self.post(server, "/api/v1/channels/\(channel)/signing-key", bearer: adminKey)
        #expect(status == 200)
        let id = try #require(body?["id"] as? String)
        let secret = try #require(body?["secret"] as? String)
        return ChannelSigningKey(id: id, secret: secret, createdAt: Date())
    }

    @Test("signed join: a token the customer signed with the channel key signs in; a second tab with the same sub votes once; rotation ends the old key")
    func signedJoinAndBallots() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("show")
        let adminKey = try #require(try server.store.ensureAdminKey())
        let port = server.httpPort
        _ = try await httpRequest(port: port, .PUT, "/api/v1/channels/show/audience", bearer: adminKey, body: #"{"join":"signed"}"#)
        let key = try await Self.signingKey(server, "show", adminKey: adminKey)
        let (info, infoBody) = try await httpRequest(port: port, .GET, "/api/v1/channels/show/audience", bearer: adminKey)
        #expect(info == 200 && (infoBody?["signingKey"] as? [String: Any])?["secret"] == nil, "the secret is shown once")

        // Two "tabs": two tokens the customer minted for the same user.
        let tab1 = try await Self.customerToken(key: key, channel: "show", sub: "user-42", name: "Ada")
        let tab2 = try await Self.customerToken(key: key, channel: "show", sub: "user-42", name: "Ada")
        let author = try await Self.author(server, channel: "show", token: tab1)
        #expect(author?.sub == "user-42" && author?.name == "Ada")

        let (created, createdBody) = try await Self.post(server, "/api/v1/channels/show/messages", bearer: adminKey,
            #"{"v":1,"type":"poll.create","id":"c1","question":"Tea or coffee?","options":["tea","coffee"]}"#)
        #expect(created == 200)
        let pollID = try #require(createdBody?["ref"] as? String)
        _ = try await Self.post(server, "/api/v1/channels/show/messages", bearer: adminKey, #"{"v":1,"type":"poll.launch","id":"l1","pollID":"\#(pollID)"}"#)
        let (first, _) = try await Self.post(server, "/api/v1/channels/show/messages", bearer: tab1, #"{"v":1,"type":"poll.vote","id":"v1","pollID":"\#(pollID)","choices":[0]}"#)
        let (second, secondBody) = try await Self.post(server, "/api/v1/channels/show/messages", bearer: tab2, #"{"v":1,"type":"poll.vote","id":"v2","pollID":"\#(pollID)","choices":[1]}"#)
        #expect(first == 200)
        #expect(second == 409 && secondBody?["code"] as? String == "already_voted", "one sub, one ballot: \(String(describing: secondBody))")

        // A playback-only token does not sign in; another channel's key does not either.
        let playbackOnly = try await Self.customerToken(key: key, channel: "show", sub: "user-42", scope: "playback")
        let (refused, _) = try await httpRequest(port: port, .GET, "/api/v1/channels/show/room", bearer: playbackOnly)
        #expect(refused == 401)
        let forged = try await Self.customerToken(key: ChannelSigningKey(id: key.id, secret: "lk_" + String(repeating: "0", count: 40), createdAt: Date()), channel: "show", sub: "user-42")
        let (forgedStatus, forgedBody) = try await httpRequest(port: port, .GET, "/api/v1/channels/show/room", bearer: forged)
        #expect(forgedStatus == 401 && Self.errorCode(forgedBody) == "unauthorized")

        // A new key: the old key's tokens stop working at once.
        _ = try await Self.signingKey(server, "show", adminKey: adminKey)
        let (afterRotation, _) = try await httpRequest(port: port, .GET, "/api/v1/channels/show/room", bearer: tab1)
        #expect(afterRotation == 401)
    }
}
