import Foundation
import HTTPTypes
import Hummingbird
import LiveMedia
import NIOCore
internal import WebRTC

/// WHEP (draft-ietf-wish-whep, on the model of WHIP, RFC 9725) for a live channel:
/// - `POST /live/CHANNEL/whep` with an SDP offer (`application/sdp`) answers `201 Created`, the SDP answer, and the
///   session's URL in `Location`;
/// - `DELETE` on that URL ends the session;
/// - `PATCH` (trickle ICE, ICE restart) is not supported: 405, the answer already lists every candidate.
/// Refusals are JSON: 400 `bad_sdp`, 404 when the channel is not live, 415 for another content type, 503
/// `server_full` or `webrtc_unavailable`; a tenant's viewer quota counts a WebRTC viewer like any other.
struct WHEPRoutes {
    let registry: BroadcastRegistry
    let node: WebRTCNode
    let viewers: TenantViewers
    /// Counts each session as a WebRTC viewer of its channel until it ends.
    let metrics: ServerMetrics

    func register(on router: Router<LiveloopRequestContext>) {
        let registry = registry
        let node = node
        let viewers = viewers
        let metrics = metrics
        router.post("live/:channel/whep") { request, context -> Response in
            let channel = context.parameters.get("channel") ?? ""
            let type = request.headers[.contentType]?.lowercased() ?? ""
            guard type.hasPrefix("application/sdp") else {
                throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                               message: "a WHEP offer is sent as Content-Type: application/sdp")
            }
            let body = try await request.body.collect(upTo: WHEPOffer.maximumBytes)
            guard let broadcast = registry.broadcast(channel), !broadcast.hasEnded else {
                throw APIError.notFound("channel \"\(channel)\" is not live")
            }
            let lease = try await viewers.admit(channel: channel)
            metrics.whepSessions.opened(channel)
            let created = try await node.createSession(channel: channel, broadcast: broadcast,
                                                       offer: String(buffer: body), client: context.remoteAddress?.ipAddress,
                                                       release: {
                                                           viewers.release(lease)
                                                           metrics.whepSessions.closed(channel)
                                                       })
            var headers: HTTPFields = [:]
            headers[.contentType] = "application/sdp"
            headers[.location] = "/live/\(channel)/whep/\(created.id)"
            headers[.cacheControl] = "no-store"
            // For players that place frames on the shared timeline (cues, sync): RTP timestamp − offset is the
            // presentation time on the stream clock, which maps media time `mediaTime` (90 kHz) to Unix ms `wallClock`.
            var clock = "offset=\(created.timestampOffset)"
            if let stream = broadcast.streamClock {
                clock += ";mediaTime=\(stream.anchorMediaTime);wallClock=\(Int64((stream.anchorWallClock.timeIntervalSince1970 * 1000).rounded()))"
            }
            if let name = HTTPField.Name("Liveloop-RTP-Clock") { headers[name] = clock }
            // Browsers' WebRTC H.264 decoders show few frames of a stream with B-frames: the watch page's automatic
            // choice of path reads this and takes the WebSocket instead.
            if created.hasBFrames, let name = HTTPField.Name("Liveloop-B-Frames") { headers[name] = "present" }
            return Response(status: .created, headers: headers, body: .init(byteBuffer: ByteBuffer(string: created.answer)))
        }
        router.delete("live/:channel/whep/:session") { _, context -> Response in
            let channel = context.parameters.get("channel") ?? ""
            let id = context.parameters.get("session") ?? ""
            guard await node.endSession(channel: channel, id: id) else {
                throw APIError.notFound("no WHEP session \"\(id)\" on channel \"\(channel)\"")
            }
            return Response(status: .ok)
        }
        router.patch("live/:channel/whep/:session") { _, _ -> Response in throw Self.noTrickle }
    }

    /// PATCH on a WHEP or WHIP session: 405, the answer already lists every candidate.
    static var noTrickle: APIError {
        var error = APIError(.methodNotAllowed, code: "method_not_allowed",
                             message: "trickle ICE and ICE restarts are not supported: the answer lists every candidate")
        error.extraHeaders[.allow] = "DELETE"
        return error
    }
}
