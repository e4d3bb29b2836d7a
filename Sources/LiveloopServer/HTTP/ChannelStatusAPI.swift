import Foundation
import Hummingbird
import Interaction
import LiveMedia
import Storage

/// What pages need around the stream: the public list of live channels, a channel's stream health for its studio,
/// and the studio's saved rundown.
struct ChannelStatusAPI {
    let store: any Store
    let registry: BroadcastRegistry
    let rooms: RoomRegistry
    let metrics: ServerMetrics
    let authenticator: Authenticator
    let audience: AudienceDirectory

    /// Largest rundown accepted.
    static let maximumRundownBytes = 256 * 1024
    /// Most channels one `GET /api/v1/live` lists (live ones first); `?limit=` asks for fewer.
    static let maximumListed = 200

    struct LiveChannel: Encodable {
        var name: String
        var live: Bool
        var viewers: Int
        var width: Int?
        var height: Int?
        var watchURL: String
        /// Whether viewers without a token may join the room (off unless the channel's settings allow it).
        var guestsAllowed: Bool
    }

    struct Health: Encodable {
        var live: Bool
        var codecs: String?
        var width: Int?
        var height: Int?
        var frameRate: Double?
        var bitrate: Int?
        var keyframeInterval: Double?
        /// Video viewers on every path (`viewersByPath` added up).
        var videoViewers: Int
        /// Video viewers per delivery path: `llhls`, `websocket`, `webrtc`.
        var viewersByPath: VideoViewers
        /// LL-HLS viewers only (the same as `viewersByPath.llhls`; kept for clients written before the breakdown).
        var hlsViewers: Int
        var interactiveViewers: Int
        var programDateTimeAnchor: Date?
    }

    func register(on router: Router<LiveloopRequestContext>) {
        // The public front page's list: members-only channels are left out (their existence is for their members),
        // `?tenant=ID` keeps one tenant's channels, live ones come first, at most `maximumListed`.
        router.get("api/v1/live") { request, _ in
            let now = Date()
            let query = request.uri.queryParameters
            let tenant = query.get("tenant")
            var limit = Self.maximumListed
            if let text = query.get("limit") {
                guard let asked = Int(text), (1...Self.maximumListed).contains(asked) else {
                    throw APIError.badRequest("limit must be a whole number from 1 to \(Self.maximumListed)")
                }
                limit = asked
            }
            var channels: [LiveChannel] = []
            for channel in try await store.channels() where tenant == nil || channel.tenantID == tenant {
                guard let settings = await audience.audience(channel.name, at: now), !settings.private else { continue }
                let broadcast = registry.broadcast(channel.name)
                let rendition = broadcast?.rendition
                let roomViewers = rooms.loadedRoom(for: channel.name)?.viewerCount ?? 0
                // A watch page holds a room socket and a video connection: the larger count, not their sum.
                let videoViewers = metrics.videoViewers(channel: channel.name, now: now).total
                channels.append(LiveChannel(
                    name: channel.name, live: broadcast?.isLive ?? false,
                    viewers: max(videoViewers, roomViewers),
                    width: rendition?.width, height: rendition?.height, watchURL: "/watch/\(channel.name)",
                    guestsAllowed: channel.allowAnonymous
                ))
            }
            // Stable: live before not live, then the store's order.
            let ordered = channels.filter(\.live) + channels.filter { !$0.live }
            return try jsonResponse(.ok, Array(ordered.prefix(limit)))
        }
        let group = router.group("api/v1/channels/:channel")
        group.get("health") { request, context in
            let channel = try await requireStaff(request, context)
            let broadcast = registry.broadcast(channel)
            let rendition = broadcast?.rendition
            let stats = broadcast?.stats
            let viewers = metrics.videoViewers(channel: channel, now: Date())
            let health = Health(
                live: broadcast?.isLive ?? false, codecs: rendition?.codecs, width: rendition?.width, height: rendition?.height,
                frameRate: stats?.frameRate, bitrate: stats?.bitrate, keyframeInterval: stats?.keyframeInterval,
                videoViewers: viewers.total, viewersByPath: viewers, hlsViewers: viewers.llhls,
                interactiveViewers: rooms.loadedRoom(for: channel)?.viewerCount ?? 0,
                programDateTimeAnchor: broadcast?.streamClock?.anchorWallClock
            )
            return try jsonResponse(.ok, health)
        }
        // The effective settings, every field with the value the room runs with (defaults included);
        // `?stored=true`: only what was set, to merge a change into and PUT back.
        group.get("settings") { request, context in
            let channel = try await requireStaff(request, context)
            let stored = try await store.channelSettings(channel: channel)
            if request.uri.queryParameters.get("stored") == "true" {
                let body = stored ?? Data("{}".utf8)
                return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: .init(bytes: body)))
            }
            let settings = stored.flatMap { try? JSONDecoder().decode(ChannelSettings.self, from: $0) } ?? ChannelSettings()
            let allowAnonymous = try await store.channel(named: channel)?.allowAnonymous ?? false
            let runsQuizzes = ChannelSettings.runsQuizzes(rundown: try await store.rundown(channel: channel))
            let effective = ChannelSettings(effective: settings.roomConfiguration(allowAnonymousDefault: allowAnonymous,
                                                                                  runsQuizzes: runsQuizzes))
            return try jsonResponse(.ok, effective)
        }
        // New settings take effect by rebuilding the room from its log: connected clients are closed and reconnect.
        group.put("settings") { request, context in
            let channel = try await requireStaff(request, context, minimum: .host)
            let body = try await request.body.collect(upTo: 64 * 1024)
            let settings = try JSONDecoder().decode(ChannelSettings.self, from: Data(body.readableBytesView))
            try settings.validate()
            let data = try JSONEncoder().encode(settings)
            let current = try await store.channel(named: channel)?.allowAnonymous ?? false
            try await store.saveChannelSettings(channel: channel, body: data, allowAnonymous: settings.allowAnonymous ?? current)
            rooms.remove(channel)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(bytes: data)))
        }
        group.get("rundown") { request, context in
            let channel = try await requireStaff(request, context)
            let body = try await store.rundown(channel: channel) ?? Data(#"{"items":[]}"#.utf8)
            return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: .init(bytes: body)))
        }
        group.put("rundown") { request, context in
            let channel = try await requireStaff(request, context)
            let body = try await request.body.collect(upTo: Self.maximumRundownBytes)
            let data = Data(body.readableBytesView)
            guard (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else {
                throw APIError.badRequest("a rundown is a JSON object")
            }
            let ranQuizzes = ChannelSettings.runsQuizzes(rundown: try await store.rundown(channel: channel))
            try await store.saveRundown(channel: channel, body: data)
            // A channel without sync targets of its own goes to lock-step when its rundown gains a quiz (and back when
            // it loses the last): the room is rebuilt with the new targets, and its clients reconnect.
            if ChannelSettings.runsQuizzes(rundown: data) != ranQuizzes {
                let stored = try await store.channelSettings(channel: channel).flatMap { try? JSONDecoder().decode(ChannelSettings.self, from: $0) }
                if stored?.syncTargets == nil { rooms.remove(channel) }
            }
            return Response(status: .noContent)
        }
    }

    /// The channel name, once the caller is proven to be its host or moderator (token or admin key).
    private func requireStaff(_ request: Request, _ context: LiveloopRequestContext, minimum: Role = .moderator) async throws -> String {
        try await authenticator.requireRole(minimum, request, context)
    }
}
