import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Storage
import Synchronization

/// The room's node's end of the room links (docs/cluster.md), for the cluster's nodes only (the relay token as
/// `Authorization: Bearer`; 401 without it):
/// - `GET /cluster/room/CHANNEL/link?node=NODE` streams ``RoomLinkRecord``s to that node — `ready` with the link's
///   epoch first, then the room's broadcasts and its clients' frames, a heartbeat every 2 s — until it goes;
/// - `POST /cluster/room/CHANNEL/link/events?node=NODE&epoch=E` is the link's way up: one long request whose body is
///   ``RoomLinkEvent``s in ``RoomLinkCodec``'s records, applied in order as they arrive (204 when the node ends it); 409 `link_gone`
///   when that link has ended (the node then reconnects its clients).
///
/// 409 `not_room_node` when this node is not the channel's room's node (the caller then finds it again).
struct RoomLinkRoutes: Sendable {
    let rooms: RoomRegistry
    let cluster: ClusterNode

    func register(on router: Router<LiveloopRequestContext>) {
        router.get("cluster/room/:channel/link") { request, context -> Response in
            let (host, node) = try await authorize(request, context)
            let link = host.openLink(node: node)
            return Response(status: .ok, headers: [.contentType: "application/vnd.liveloop.room-link", .cacheControl: "no-store"],
                            body: ResponseBody { writer in
                                let beats = Task {
                                    while !Task.isCancelled {
                                        try? await Task.sleep(for: RoomFollower.heartbeat)
                                        if !link.send(.heartbeat) { break }
                                    }
                                }
                                defer {
                                    beats.cancel()
                                    host.endLink(link)
                                }
                                for await _ in link.wakeups {
                                    let bytes = link.take()
                                    if bytes.readableBytes > 0 { try await writer.write(bytes) }
                                }
                                let rest = link.take()
                                if rest.readableBytes > 0 { try await writer.write(rest) }
                                try await writer.finish(nil)
                            })
        }
        router.post("cluster/room/:channel/link/events") { request, context -> Response in
            let (host, node) = try await authorize(request, context)
            guard let epoch = request.uri.queryParameters.get("epoch").flatMap({ Int($0) }),
                  let link = host.link(node: node, epoch: epoch) else {
                throw APIError(.conflict, code: "link_gone", message: "this room link has ended; open a new one")
            }
            // Events applied chunk by chunk as they arrive.
            var pending = ByteBuffer()
            for try await chunk in request.body {
                var chunk = chunk
                pending.writeBuffer(&chunk)
                var events: [RoomLinkEvent] = []
                do {
                    while let next = try RoomLinkCodec.decodeEvent(from: &pending) {
                        if let event = next { events.append(event) }
                    }
                } catch {
                    throw APIError.badRequest("a malformed room link event: \(error)")
                }
                pending.discardReadBytes()
                if !events.isEmpty { host.apply(events, from: link) }
                if link.isClosed { break }
            }
            return Response(status: .noContent)
        }
    }

    private func authorize(_ request: Request, _ context: LiveloopRequestContext) async throws -> (RoomHost, String) {
        guard let token = JoinAPI.bearer(request),
              Secrets.constantTimeEquals(Data(token.utf8), Data(cluster.relayToken.utf8)) else {
            throw WHIPRoutes.unauthorized("a room link needs this cluster's relay token")
        }
        let channel = context.parameters.get("channel") ?? ""
        guard let node = request.uri.queryParameters.get("node").map({ String($0) }), !node.isEmpty, node.count <= 200 else {
            throw APIError.badRequest("a room link names its node (?node=)")
        }
        guard let host = try await rooms.ledRoom(for: channel) else {
            throw APIError(.conflict, code: "not_room_node", message: "this node is not the room's node for \"\(channel)\"")
        }
        return (host, node)
    }
}
