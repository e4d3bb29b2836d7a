import Foundation
import Hummingbird
import Interaction
import LiveMedia
import Storage

/// `GET/PUT /api/v1/channels/CHANNEL/video`: the channel's rendition ladder and whether it records. Reading needs the
/// channel's moderator or host (or an API key); changing it, its host.
struct ChannelVideoAPI {
    let video: ChannelVideo
    let authenticator: Authenticator

    /// Largest body accepted for a change.
    static let maximumBodyBytes = 4 * 1024

    func register(on router: Router<LiveloopRequestContext>) {
        let group = router.group("api/v1/channels/:channel")
        group.get("video") { request, context in
            let channel = try await authenticator.requireRole(.moderator, request, context)
            return try await jsonResponse(.ok, video.settings(channel: channel))
        }
        group.put("video") { request, context in
            let channel = try await authenticator.requireRole(.host, request, context, refusal: "only the channel's host changes its video")
            let body = try await request.body.collect(upTo: Self.maximumBodyBytes)
            let change: ChannelVideo.Change
            do {
                change = try JSONDecoder().decode(ChannelVideo.Change.self, from: Data(body.readableBytesView))
            } catch {
                throw APIError.badRequest("expected {\"renditions\": [\"720p\", …], \"record\": true|false}")
            }
            do {
                return try await jsonResponse(.ok, video.apply(change, channel: channel))
            } catch let error as RenditionPreset.LadderError {
                throw APIError.badRequest(error.description)
            } catch StoreError.channelNotFound {
                throw APIError.notFound("no channel \"\(channel)\"")
            }
        }
    }
}
