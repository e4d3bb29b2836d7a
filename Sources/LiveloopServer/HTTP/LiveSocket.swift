import Foundation
import Hummingbird
import HummingbirdWebSocket
import LiveMedia
import NIOCore
import NIOWebSocket
import Prometheus

/// `GET /live/CHANNEL/ws`: the sub-second path. A text frame
/// `{"type":"init","codecs":"…","clock":{"timescale":90000,"mediaTime":M,"wallClock":MS}}` announces each init segment
/// (sent next, as a binary frame); then every CMAF chunk from the last keyframe on follows as a binary frame, the moment
/// it is packaged. `clock` is the broadcast's stream clock: the media time `M` (the video track's decode timeline, in
/// `timescale` units) was ingested at `MS` (Unix milliseconds, server clock); it never moves during a broadcast, so
/// `wallClock(t) = MS + (t − M) / timescale × 1000` for every fragment — the same mapping `EXT-X-PROGRAM-DATE-TIME`
/// carries in the playlist. `target` (seconds) is the channel's sync target for this path. `{"type":"interrupted"}`
/// says the publisher went away (sent when it drops, and to a viewer who joins meanwhile): media resumes on the same
/// timeline if it is back within the reconnect grace, else the socket closes with the reason `broadcast ended`. `?rendition=NAME` (`720p`) gives one of the channel's
/// transcoded renditions instead of the source (404 if the channel has none by that name). A viewer that cannot keep up is disconnected rather than buffered without bound.
struct LiveSocket {
    let registry: BroadcastRegistry
    let metrics: ServerMetrics
    let budget: ConnectionBudget
    /// Each tenant's viewer quota: a video socket counts as a viewer of the channel's tenant.
    let viewers: TenantViewers
    /// The channel's sync target on this path (seconds behind ingest), sent as `target` in each `init` frame.
    let target: @Sendable (String) -> Double?

    func register(on router: Router<LiveloopWebSocketContext>) {
        let registry = registry
        let metrics = metrics
        let budget = budget
        let target = target
        let viewers = viewers
        router.ws("live/:channel/ws") { request, context in
            guard budget.count < budget.limit else { throw ConnectionBudget.full }
            let channel = context.parameters.get("channel") ?? ""
            guard let broadcast = registry.broadcast(channel), !broadcast.hasEnded else {
                throw APIError.notFound("channel \"\(channel)\" is not live")
            }
            // `?rendition=NAME`: one of the channel's transcoded renditions instead of the source.
            let rendition = request.uri.queryParameters["rendition"].map(String.init)
            guard broadcast.hasRendition(rendition) else {
                throw APIError.notFound("channel \"\(channel)\" has no rendition \"\(rendition ?? "")\"")
            }
            if let refusal = await viewers.refusal(channel: channel) { throw refusal }
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            guard budget.acquire() else {
                try await outbound.close(.unexpectedServerError, reason: "server full")
                return
            }
            defer { budget.release() }
            let channel = context.requestContext.parameters.get("channel") ?? ""
            guard let lease = try? await viewers.admit(channel: channel) else {
                try await outbound.close(.policyViolation, reason: "tenant viewer quota reached")
                return
            }
            defer { viewers.release(lease) }
            let rendition = context.request.uri.queryParameters["rendition"].map(String.init)
            guard let broadcast = registry.broadcast(channel),
                  let fragments = broadcast.subscribeLive(rendition: rendition) else { return }
            metrics.videoSockets.opened(channel)
            defer { metrics.videoSockets.closed(channel) }
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    // The viewer sends nothing we need; reading keeps pings answered and notices the close.
                    do { for try await _ in inbound {} } catch {}
                }
                do {
                    for await fragment in fragments {
                        switch fragment {
                        case let .initSegment(bytes, codecs):
                            var announce = #"{"type":"init","codecs":"\#(codecs)""#
                            if let clock = broadcast.streamClock {
                                let wall = Int64((clock.anchorWallClock.timeIntervalSince1970 * 1000).rounded())
                                announce += #","clock":{"timescale":90000,"mediaTime":\#(clock.anchorMediaTime),"wallClock":\#(wall)}"#
                            }
                            if let seconds = target(channel) { announce += #","target":\#(seconds)"# }
                            announce += "}"
                            try await outbound.write(.text(announce))
                            try await outbound.write(.binary(bytes))
                            metrics.bytesOut.increment(by: Int64(bytes.readableBytes))
                        case let .media(bytes):
                            try await outbound.write(.binary(bytes))
                            metrics.bytesOut.increment(by: Int64(bytes.readableBytes))
                        case .interrupted:
                            try await outbound.write(.text(#"{"type":"interrupted"}"#))
                        }
                    }
                    try await outbound.close(.normalClosure, reason: "broadcast ended")
                } catch {}
                group.cancelAll()
            }
        }
    }
}
