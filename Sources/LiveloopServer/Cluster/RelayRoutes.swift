import Foundation
import HTTPTypes
import Hummingbird
import LiveMedia
import NIOCore
import Storage

/// The origin's end of a relay (docs/cluster.md): `GET /cluster/relay/CHANNEL` with the cluster's relay token as
/// `Authorization: Bearer` streams the channel's broadcast in ``RelayCodec``'s records — the codecs and stream clock,
/// every frame from the next keyframe, the cues (the latest ones first), interruptions, the end — with a heartbeat
/// every 2 s. 401 without the token, 404 when the channel is not published on this node.
struct RelayRoutes: Sendable {
    let registry: BroadcastRegistry
    let cluster: ClusterNode
    static let heartbeat = Duration.seconds(2)

    func register(on router: Router<LiveloopRequestContext>) {
        router.get("cluster/relay/:channel") { request, context -> Response in
            guard let token = JoinAPI.bearer(request),
                  Secrets.constantTimeEquals(Data(token.utf8), Data(cluster.relayToken.utf8)) else {
                throw WHIPRoutes.unauthorized("a relay needs this cluster's relay token")
            }
            let name = context.parameters.get("channel") ?? ""
            guard let broadcast = registry.broadcast(name), broadcast.relayedFrom == nil, !broadcast.hasEnded else {
                throw APIError(.notFound, code: "not_live", message: "channel \"\(name)\" is not published on this node")
            }
            return Response(status: .ok, headers: [.contentType: "application/vnd.liveloop.relay", .cacheControl: "no-store"],
                            body: ResponseBody { writer in try await Self.stream(broadcast, into: &writer) })
        }
    }

    private static func stream(_ broadcast: Broadcast, into writer: inout any ResponseBodyWriter) async throws {
        let feed = NodeRelayFeed()
        let id = broadcast.attach(feed)
        let (recent, tap) = broadcast.tapCues { feed.send(.cue($0)) }
        for cue in recent { feed.send(.cue(cue)) }
        let beats = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: heartbeat)
                if !feed.send(.heartbeat) { break }
            }
        }
        defer {
            beats.cancel()
            broadcast.untapCues(tap)
            broadcast.detach(id)
            feed.close()
        }
        for await chunk in feed.stream {
            try await writer.write(chunk)
            feed.written(chunk.readableBytes)
        }
        try await writer.finish(nil)
    }
}
