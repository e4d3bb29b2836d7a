import Foundation
import HTTPTypes
import Hummingbird

/// Where a playback token travels: `?pt=` on playlists (and the URIs they list), or this cookie.
enum PlaybackQuery {
    static let name = "pt"
    static let cookie = "liveloop_playback"
}

/// Members-only video: on a private channel every `/live/CHANNEL/…` request (the LL-HLS playlists, init segments,
/// segments and parts, and the WebSocket fMP4 upgrade) needs a playback token signed with the channel's key — as
/// `?pt=TOKEN`, `Authorization: Bearer TOKEN` or the `liveloop_playback` cookie — or it is refused: 401
/// `playback_token_required` without one, 403 `playback_token_expired` / `playback_token_invalid` with a bad one.
/// A playlist fetched with `?pt=` comes back with the token in every URI it lists, so media requests and reloads carry
/// it too; a token that expires stops the player at its next playlist reload. Public channels pass straight through.
struct PlaybackGate<Context: RequestContext>: RouterMiddleware {
    let audience: AudienceDirectory


    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let channel = Self.channel(inPath: request.uri.path), let settings = await audience.audience(channel), settings.private else {
            return try await next(request, context)
        }
        let fromQuery = request.uri.queryParameters.get(PlaybackQuery.name).map { String($0) }
        guard let token = fromQuery ?? JoinAPI.bearer(request) ?? Self.cookie(request) else {
            throw APIError(.unauthorized, code: "playback_token_required",
                           message: "this channel is for members: play it with a playback token (?\(PlaybackQuery.name)=…)")
        }
        do throws(AudienceDirectory.TokenError) {
            _ = try await audience.claims(token: token, channel: channel)
        } catch .expired {
            throw APIError(.forbidden, code: "playback_token_expired", message: "the playback token has expired; get a new one")
        } catch .wrongChannel {
            throw APIError(.forbidden, code: "playback_token_invalid", message: "the playback token is for another channel")
        } catch {
            throw APIError(.forbidden, code: "playback_token_invalid", message: "the playback token is not valid for this channel")
        }
        var response = try await next(request, context)
        // Members' responses are theirs: a shared cache may keep them only under the tokened URL. A token that came in
        // a cookie or a header is not in the URL, so the response is for this viewer's own cache only (an edge keyed
        // by URL would otherwise hand it to the next request without a token).
        if fromQuery == nil, let cacheControl = response.headers[.cacheControl] {
            response.headers[.cacheControl] = cacheControl.replacingOccurrences(of: "public", with: "private")
        }
        if let fromQuery, response.headers[.contentType]?.hasPrefix("application/vnd.apple.mpegurl") == true {
            response.headers[.contentLength] = nil
            response.body = response.body.map { buffer in
                ByteBuffer(string: PlaylistTokenRewriter.rewrite(String(buffer: buffer), name: PlaybackQuery.name, token: fromQuery))
            }
        }
        return response
    }

    /// The channel of a `/live/CHANNEL/…` path.
    static func channel(inPath path: String) -> String? {
        guard path.hasPrefix("/live/") else { return nil }
        guard let name = path.dropFirst("/live/".count).split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first,
              !name.isEmpty else { return nil }
        return String(name).removingPercentEncoding ?? String(name)
    }

    static func cookie(_ request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == PlaybackQuery.cookie, !parts[1].isEmpty { return String(parts[1]) }
            }
        }
        return nil
    }
}
