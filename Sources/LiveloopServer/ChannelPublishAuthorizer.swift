import LiveMedia
import RTMP

/// The RTMP side of `PublishGate`: its verdict as the `onStatus` answer an encoder understands.
struct ChannelPublishAuthorizer: RTMPPublishAuthorizer {
    let gate: PublishGate

    func authorize(app: String, streamKey: String, remoteAddress: String) async -> RTMPPublishDecision {
        switch await gate.open(streamKey: streamKey, remote: remoteAddress, via: "RTMP") {
        case .unavailable:
            return .refuse(code: "NetStream.Publish.Failed", description: "The server could not check the stream key.")
        case .unknownKey:
            return .refuse(code: "NetStream.Publish.BadName", description: "Unknown stream key.")
        case .busy:
            return .refuse(code: "NetStream.Publish.BadName", description: "This channel already has a publisher.")
        case let .quotaExceeded(limit):
            return .refuse(code: "NetStream.Publish.Rejected",
                           description: "This channel's tenant has its quota of \(limit) concurrent publishers.")
        case .refusedByHook:
            return .refuse(code: "NetStream.Publish.Rejected", description: "The server's publish hook refused this stream.")
        case let .started(broadcast), let .resumed(broadcast):
            return .accept(RTMPIngest(broadcast: broadcast, registry: gate.registry))
        }
    }
}
