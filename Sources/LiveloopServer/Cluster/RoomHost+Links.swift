import Foundation
import Interaction
import NIOCore
import Synchronization

/// The room's node's side of the room links (docs/cluster.md): another node opens a link, posts its clients' events
/// down it, and gets every broadcast once and its clients' own frames one by one.
extension RoomHost {
    /// Hands a broadcast to every open link (called by the pipeline, once per broadcast).
    func relay(_ broadcast: RoomBroadcast, _ frame: ByteBuffer) {
        for link in links.withLock({ Array($0.values) }) {
            link.send(.broadcast(broadcast.audience, cue: broadcast.cue, frame: frame))
        }
    }

    /// Opens a link for `node`; one it had before ends (its clients leave the room: that node reconnects them).
    func openLink(node: String) -> RoomLink {
        let link = RoomLink(node: node, epoch: nextLinkEpoch.wrappingAdd(1, ordering: .relaxed).newValue)
        link.send(.ready(epoch: link.epoch))
        let previous = links.withLock { links in
            defer { links[node] = link }
            return links[node]
        }
        if let previous { endLink(previous) }
        return link
    }

    /// The open link of `node` named `epoch`, nil when it has ended.
    func link(node: String, epoch: Int) -> RoomLink? {
        links.withLock { links in links[node].flatMap { $0.epoch == epoch && !$0.isClosed ? $0 : nil } }
    }

    /// Ends a link: its clients leave the room.
    func endLink(_ link: RoomLink) {
        links.withLock { links in
            if links[link.node] === link { links[link.node] = nil }
        }
        link.close()
        for client in link.takeClients() { core.disconnect(client) }
        wakeup.yield()
    }

    /// Applies another node's events in the order they happened there.
    func apply(_ events: [RoomLinkEvent], from link: RoomLink) {
        for event in events {
            switch event.kind {
            case .connect:
                guard let identity = event.identity, link.client(event.connection) == nil else { continue }
                let client = ClientConnection(id: nextConnectionID.wrappingAdd(1, ordering: .relaxed).newValue, identity: identity,
                                              remote: event.connection, link: link)
                do throws(InteractionError) {
                    link.add(client, number: event.connection)
                    try core.connect(client, lastSeq: event.lastSeq, at: Self.now)
                } catch {
                    _ = link.remove(event.connection)
                    sendDirect(ServerEnvelope(.error(.init(error))), to: client)
                    client.close()
                }
            case .request:
                guard let client = link.client(event.connection), let text = event.text else { continue }
                switch ClientRequest.decode(text, maxBytes: WebSocketGateway.maximumMessageBytes) {
                case let .failure(rejection): sendDirect(rejection.reply, to: client)
                case let .success(request): handle(request, from: client.identity, sender: client)
                }
            case .disconnect:
                if let client = link.remove(event.connection) { core.disconnect(client) }
            case .broadcastBegan, .broadcastEnded:
                guard let id = event.broadcast, let at = event.at else { continue }
                let began = event.kind == .broadcastBegan
                core.record({ room in
                    began ? room.beginBroadcast(id, at: Timestamp(Date(timeIntervalSince1970: at)))
                        : room.endBroadcast(id, at: Timestamp(Date(timeIntervalSince1970: at)))
                }, done: { _ in })
            case .reload:
                rebuild()
            }
        }
        wakeup.yield()
    }
}
