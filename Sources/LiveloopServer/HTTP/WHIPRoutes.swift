import Foundation
import HTTPTypes
import Hummingbird
import LiveMedia
import NIOCore
import Storage
internal import WebRTC

/// WHIP (RFC 9725): a browser, or OBS's WHIP output, publishes a channel over WebRTC.
/// - `POST /live/whip` with the channel's stream key as `Authorization: Bearer KEY` and an SDP offer
///   (`application/sdp`) answers `201 Created`, the SDP answer, and the session's URL in `Location`;
/// - `DELETE` on that URL, with the same bearer, ends the publish (the broadcast then waits out the grace period,
///   like an RTMP publisher that left);
/// - `PATCH` (trickle ICE, ICE restart) is not supported: 405, the answer already lists every candidate.
/// The key is checked as RTMP's and SRT's are (``PublishGate``: publish hook, tenant quota, one publisher a channel).
/// Refusals are JSON: 401 without a bearer or with one that is no stream key, 400 `bad_sdp`, 409 `channel_live`,
/// 403 `quota_exceeded` or `publish_refused`, 415 for another content type, 429 past the address's sessions, 503
/// when WebRTC or ffmpeg is missing here.
struct WHIPRoutes {
    let gate: PublishGate
    let node: WebRTCNode

    func register(on router: Router<LiveloopRequestContext>) {
        let gate = gate
        let node = node
        router.post("live/whip") { request, context -> Response in
            let type = request.headers[.contentType]?.lowercased() ?? ""
            guard type.hasPrefix("application/sdp") else {
                throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                               message: "a WHIP offer is sent as Content-Type: application/sdp")
            }
            guard let key = JoinAPI.bearer(request), !key.isEmpty else { throw Self.unauthorized("send the channel's stream key as Authorization: Bearer KEY") }
            let body = try await request.body.collect(upTo: WHIPOffer.maximumBytes)
            // Nothing is held before the offer reads and the key opens a channel.
            let offer = try node.publisherOffer(String(buffer: body))
            let remote = context.remoteAddress?.ipAddress
            let unreserve = try node.reservePublisherPlace(client: remote)
            let verdict = await gate.open(streamKey: key, remote: remote ?? "unknown", via: "WHIP")
            guard case let .started(broadcast) = verdict else {
                if case let .resumed(broadcast) = verdict { return try await answer(broadcast) }
                unreserve()
                throw Self.refusal(verdict)
            }
            return try await answer(broadcast)

            func answer(_ broadcast: Broadcast) async throws -> Response {
                let registry = gate.registry
                let created = try await node.createPublisher(channel: broadcast.channel, broadcast: broadcast, offer: offer) {
                    unreserve()
                    registry.publisherLeft(broadcast)
                }
                var headers: HTTPFields = [:]
                headers[.contentType] = "application/sdp"
                headers[.location] = "/live/whip/\(created.id)"
                headers[.cacheControl] = "no-store"
                return Response(status: .created, headers: headers, body: .init(byteBuffer: ByteBuffer(string: created.answer)))
            }
        }
        router.delete("live/whip/:session") { request, context -> Response in
            let id = context.parameters.get("session") ?? ""
            guard let key = JoinAPI.bearer(request), !key.isEmpty else { throw Self.unauthorized("send the channel's stream key as Authorization: Bearer KEY") }
            // The same answer for an unknown session and a key of another channel: a stranger learns nothing.
            guard let channel = await node.publisherChannel(id: id),
                  (try? await gate.store.channel(forStreamKey: key))??.name == channel,
                  await node.endSession(channel: channel, id: id) else {
                throw APIError.notFound("no WHIP session \"\(id)\" for this stream key")
            }
            return Response(status: .ok)
        }
        router.patch("live/whip/:session") { _, _ -> Response in throw WHEPRoutes.noTrickle }
    }

    /// What a publish the gate did not start is answered.
    static func refusal(_ verdict: PublishGate.Verdict) -> APIError {
        switch verdict {
        case .started, .resumed, .unknownKey:
            return unauthorized("the bearer token is not a channel's stream key")
        case .busy:
            return APIError(.conflict, code: "channel_live", message: "the channel has a live publisher already")
        case let .quotaExceeded(limit):
            var error = APIError(.forbidden, code: "quota_exceeded", message: "the tenant has \(limit) channels publishing, its quota")
            error.limit = limit
            error.quota = "publishers"
            return error
        case .refusedByHook:
            return APIError(.forbidden, code: "publish_refused", message: "the publish hook refused this publish")
        case .unavailable:
            return APIError(.serviceUnavailable, code: "unavailable", message: "the channel store could not be read; try again")
        }
    }

    static func unauthorized(_ message: String) -> APIError {
        var error = APIError(.unauthorized, code: "unauthorized", message: message)
        error.extraHeaders[.wwwAuthenticate] = "Bearer"
        return error
    }
}
