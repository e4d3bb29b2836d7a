import Foundation
import LiveMedia
import Logging
import RTMP
import Storage

/// Checks an RTMP `publish` against the channel store: the stream key must belong to a channel, and that channel
/// must not have a publisher already. The key itself is never logged.
struct ChannelPublishAuthorizer: RTMPPublishAuthorizer {
    let store: SQLiteStore
    let registry: BroadcastRegistry
    let logger: Logger

    func authorize(app: String, streamKey: String, remoteAddress: String) async -> RTMPPublishDecision {
        let channel: Channel?
        do {
            channel = try store.channel(forStreamKey: streamKey)
        } catch {
            logger.error("stream key lookup failed: \(error)")
            return .refuse(code: "NetStream.Publish.Failed", description: "The server could not check the stream key.")
        }
        guard let channel else {
            logger.info("publish refused: unknown stream key", metadata: ["remote": "\(remoteAddress)"])
            return .refuse(code: "NetStream.Publish.BadName", description: "Unknown stream key.")
        }
        switch registry.beginPublishing(channel: channel.name, now: Date()) {
        case .busy:
            logger.info("publish refused: channel already live", metadata: ["channel": "\(channel.name)", "remote": "\(remoteAddress)"])
            return .refuse(code: "NetStream.Publish.BadName", description: "This channel already has a publisher.")
        case let .started(broadcast):
            logger.info("publish started", metadata: ["channel": "\(channel.name)", "remote": "\(remoteAddress)"])
            return .accept(RTMPIngest(broadcast: broadcast, registry: registry))
        case let .resumed(broadcast):
            logger.info("publisher reconnected", metadata: ["channel": "\(channel.name)", "remote": "\(remoteAddress)"])
            return .accept(RTMPIngest(broadcast: broadcast, registry: registry))
        }
    }
}
