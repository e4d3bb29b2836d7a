import Foundation
import Hummingbird
import Interaction
import Storage

/// `GET /api/v1/channels/C/recordings`, `GET …/recordings/ID` and `DELETE …/recordings/ID` (host).
///
/// Reading is public, as watching the recording is (the same rule as the live channel); deleting needs the channel's
/// host (or an API key for it). A recording being written cannot be deleted: switch `record` off first (409).
struct RecordingAPI {
    let recordings: Recordings
    let store: any Store
    let authenticator: Authenticator

    /// A recording as the API shows it: what `recording.json` holds, with the URLs to play it.
    struct View: Encodable {
        var id: String
        var channel: String
        var broadcastID: String
        var state: RecordingInfo.State
        var startedAt: Date
        var endedAt: Date?
        var durationSeconds: Double
        var bytes: Int
        var segments: Int
        var mediaStart: Double?
        var error: String?
        var playlistURL: String
        var watchURL: String

        init(_ info: RecordingInfo) {
            id = info.id
            channel = info.channel
            broadcastID = info.broadcastID
            state = info.state
            startedAt = info.startedAt
            endedAt = info.endedAt
            durationSeconds = info.durationSeconds
            bytes = info.bytes
            segments = info.segments
            mediaStart = info.mediaStart
            error = info.error
            playlistURL = Recordings.playlistPath(channel: info.channel, id: info.id)
            watchURL = "/watch/\(info.channel)?recording=\(info.id)"
        }
    }

    struct List: Encodable {
        var recordings: [View]
    }

    func register(on router: Router<LiveloopRequestContext>) {
        let group = router.group("api/v1/channels/:channel/recordings")
        let disk = recordings.disk
        group.get { _, context in
            let channel = try await existingChannel(context)
            let list = await RecordingStore.offload { disk.list(channel: channel) }
            return try jsonResponse(.ok, List(recordings: list.map(View.init)))
        }
        group.get(":id") { _, context in
            let (channel, id) = try await recordingPath(context)
            guard let info = await RecordingStore.offload({ disk.info(channel: channel, id: id) }) else {
                throw APIError.notFound("no recording \"\(id)\" of channel \"\(channel)\"")
            }
            return try jsonResponse(.ok, View(info))
        }
        group.delete(":id") { request, context in
            let channel = try await authenticator.requireRole(.host, request, context, refusal: "only the channel's host deletes its recordings")
            let id = context.parameters.get("id") ?? ""
            guard RecordingStore.isValidID(id) else { throw APIError.notFound("no recording \"\(id.prefix(64))\" of channel \"\(channel)\"") }
            if recordings.activeID(channel: channel) == id {
                throw APIError(.conflict, code: "recording_in_progress",
                               message: "recording \"\(id)\" is being written; switch record off (PUT …/video {\"record\":false}) first")
            }
            guard await RecordingStore.offload({ disk.delete(channel: channel, id: id) }) else {
                throw APIError.notFound("no recording \"\(id)\" of channel \"\(channel)\"")
            }
            return Response(status: .noContent)
        }
    }

    private func existingChannel(_ context: LiveloopRequestContext) async throws -> String {
        let channel = context.parameters.get("channel") ?? ""
        guard Channel.isValidName(channel), try await store.channel(named: channel) != nil else {
            throw APIError.notFound("no channel \"\(channel.prefix(64))\"")
        }
        return channel
    }

    private func recordingPath(_ context: LiveloopRequestContext) async throws -> (String, String) {
        let channel = try await existingChannel(context)
        let id = context.parameters.get("id") ?? ""
        guard RecordingStore.isValidID(id) else { throw APIError.notFound("no recording \"\(id.prefix(64))\" of channel \"\(channel)\"") }
        return (channel, id)
    }
}
