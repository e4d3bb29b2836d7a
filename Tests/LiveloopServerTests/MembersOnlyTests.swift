import Foundation
import LiveloopClient
import NIOCore
import NIOHTTP1
import Storage
import Testing

/// Members-only playback (docs/embedding.md): a private channel's LL-HLS and WebSocket fMP4 play only with a
/// playback token signed with the channel key; ffprobe follows the token through the playlists it is given.
@Suite("members-only playback", .serialized, .enabled(if: Tools.haveFFmpeg, "needs ffmpeg and ffprobe"))
struct MembersOnlyTests {
    static func code(_ response: HTTPConnection.Response) -> String? {
        let json = try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
        return (json?["error"] as? [String: Any])?["code"] as? String
    }

    static func playbackToken(_ server: TestServer, adminKey: String, ttl: Int) async throws -> String {
        let (status, body) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/channels/demo/playback-tokens", bearer: adminKey,
                                                   body: #"{"ttlSeconds":\#(ttl),"viewer":"member-7"}"#)
        #expect(status == 200)
        #expect((body?["playbackURL"] as? String)?.hasPrefix("/live/demo/index.m3u8?pt=") == true)
        return try #require(body?["token"] as? String)
    }

    /// ffprobe on a live HLS address: the streams it found (codec types), or its errors.
    static func probeLive(_ url: String) async throws -> (status: Int32, streams: [String], errors: String) {
        let (status, out, errors) = try await Tools.output("ffprobe", [
            "-v", "error", "-rw_timeout", "5000000", "-show_entries", "stream=codec_type", "-of", "csv=p=0", url,
        ])
        return (status, out.split(whereSeparator: \.isNewline).map(String.init), errors)
    }

    @Test("without a token nothing plays (401 + JSON on every video URL, ffprobe fails); with one everything does; an expired one stops at the next playlist reload")
    func privateChannel() async throws {
        let server = try await TestServer.start(demo: true)
        defer { Task { await server.stop() } }
        let adminKey = try #require(try server.store.ensureAdminKey())
        #expect(await eventually(timeout: .seconds(15)) { (try? await server.get("/live/demo/media.m3u8"))?.status == 200 })
        let (made, _) = try await httpRequest(port: server.httpPort, .PUT, "/api/v1/channels/demo/audience", bearer: adminKey, body: #"{"private":true}"#)
        #expect(made == 200)

        // No token: every video URL is refused with a JSON body.
        for path in ["/live/demo/index.m3u8", "/live/demo/media.m3u8", "/live/demo/init0.mp4", "/live/demo/seg0.m4s", "/live/demo/ws"] {
            let response = try await server.get(path)
            #expect(response.status == 401 && Self.code(response) == "playback_token_required", "\(path): \(response.status)")
        }
        let base = "http://127.0.0.1:\(server.httpPort)/live/demo/index.m3u8"
        let refused = try await Self.probeLive(base)
        #expect(refused.status != 0 && refused.streams.isEmpty, "ffprobe without a token: \(refused)")
        let forged = try await server.get("/live/demo/media.m3u8?pt=eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl")
        #expect(forged.status == 403 && Self.code(forged) == "playback_token_invalid")

        // With a token: the playlists carry it on to every URI they list, and ffprobe plays through them.
        let token = try await Self.playbackToken(server, adminKey: adminKey, ttl: 600)
        var text = ""
        // The first whole segment takes a moment after the demo starts.
        #expect(await eventually(timeout: .seconds(15)) {
            guard let media = try? await server.get("/live/demo/media.m3u8?pt=\(token)"), media.status == 200 else { return false }
            text = String(buffer: media.body)
            return text.contains("#EXTINF")
        })
        let uris = text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
        #expect(!uris.isEmpty && uris.allSatisfy { $0.hasSuffix("pt=\(token)") }, "every segment URI carries the token")
        #expect(text.contains(#"#EXT-X-MAP:URI="init0.mp4?pt=\#(token)""#))
        let segment = try #require(uris.first.map(String.init))
        #expect(try await server.get("/live/demo/\(segment)").status == 200)
        let played = try await Self.probeLive("\(base)?pt=\(token)")
        #expect(played.status == 0 && played.streams.contains("video") && played.streams.contains("audio"), "ffprobe with a token: \(played)")
        // The cookie does as well as the query (for a CDN that passes cookies through).
        if Tools.path("curl") != nil {
            let (_, cookieStatus, _) = try await Tools.output("curl", [
                "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Cookie: theme=dark; liveloop_playback=\(token)", base,
            ])
            #expect(cookieStatus == "200")
        }

        // The sub-second path: refused without, served with.
        let out = NSTemporaryDirectory() + "members-\(UUID().uuidString).mp4"
        defer { try? FileManager.default.removeItem(atPath: out) }
        if InteractionGatewayTests.havePythonWebsockets {
            let (wsStatus, _, wsErrors) = try await Tools.output("python3", [
                "\(InteractionGatewayTests.pythonDirectory)/live_ws_dump.py", "ws://127.0.0.1:\(server.httpPort)/live/demo/ws?pt=\(token)", out, "1.5",
            ])
            #expect(wsStatus == 0, "\(wsErrors)")
            let probe = try await Tools.probe(out)
            #expect(probe.videoFrames > 10, "the WebSocket fMP4 decodes: \(probe.errors)")
            let (deniedStatus, _, deniedErrors) = try await Tools.output("python3", [
                "\(InteractionGatewayTests.pythonDirectory)/live_ws_dump.py", "ws://127.0.0.1:\(server.httpPort)/live/demo/ws", out, "1",
            ])
            #expect(deniedStatus != 0 && deniedErrors.contains("401"), "upgrade without a token: \(deniedErrors.suffix(300))")
        }

        // WHEP is behind the same gate: refused before the offer is read without a token; with one (as WHEP's bearer)
        // the request reaches the WHEP route, which judges the offer (not SDP here, so not a 401/403 either way).
        let (whepDenied, whepBody) = try await httpRequest(port: server.httpPort, .POST, "/live/demo/whep", bearer: nil, body: "v=0")
        #expect(whepDenied == 401 && (whepBody?["error"] as? [String: Any])?["code"] as? String == "playback_token_required")
        let (whepPassed, _) = try await httpRequest(port: server.httpPort, .POST, "/live/demo/whep", bearer: token, body: "v=0")
        #expect(whepPassed != 401 && whepPassed != 403 && (400..<600).contains(whepPassed), "WHEP with a playback token: \(whepPassed)")

        // A token that expires: fine now, refused (403 + JSON) at the first reload after its expiry.
        let shortLived = try await Self.playbackToken(server, adminKey: adminKey, ttl: 2)
        #expect(try await server.get("/live/demo/media.m3u8?pt=\(shortLived)").status == 200)
        try await Task.sleep(for: .seconds(3))
        let expired = try await server.get("/live/demo/media.m3u8?pt=\(shortLived)")
        #expect(expired.status == 403 && Self.code(expired) == "playback_token_expired")
        let expiredPart = try await server.get("/live/demo/\(segment.split(separator: "?").first ?? "")?pt=\(shortLived)")
        #expect(expiredPart.status == 403)

        // Public again: plays without a token.
        _ = try await httpRequest(port: server.httpPort, .PUT, "/api/v1/channels/demo/audience", bearer: adminKey, body: #"{"private":false}"#)
        #expect(try await server.get("/live/demo/index.m3u8").status == 200)
    }
}
