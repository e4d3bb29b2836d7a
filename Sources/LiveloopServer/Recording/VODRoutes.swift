import Foundation
import HTTPTypes
import Hummingbird
import LiveMedia
import NIOCore
import Storage

/// A recording as video on demand: `/vod/C/ID/index.m3u8` (the playlist, ``VODPlaylist``), `/vod/C/ID/mediaN.mp4`
/// (the fragmented MP4 files, with byte ranges) and `/vod/C/ID/timeline.json` (the interaction timeline the watch
/// page replays). Public, as the live channel is.
struct VODRoutes {
    let recordings: Recordings
    let store: any Store

    func register(on router: Router<LiveloopRequestContext>) {
        router.get("vod/:channel/:id/:file") { request, context in try await serve(request, context) }
    }

    private func serve(_ request: Request, _ context: LiveloopRequestContext) async throws -> Response {
        let channel = context.parameters.get("channel") ?? ""
        let id = context.parameters.get("id") ?? ""
        let file = context.parameters.get("file") ?? ""
        let disk = recordings.disk
        guard Channel.isValidName(channel), RecordingStore.isValidID(id), try await store.channel(named: channel) != nil,
              let info = await RecordingStore.offload({ disk.info(channel: channel, id: id) }) else {
            throw APIError.notFound("no recording \"\(id.prefix(64))\" of channel \"\(channel.prefix(64))\"")
        }
        let finished = info.state != .recording
        switch file {
        case "index.m3u8":
            let text = await RecordingStore.offload {
                VODPlaylist.render(segments: disk.segments(channel: channel, id: id), cues: disk.cues(channel: channel, id: id),
                                   finished: finished)
            }
            return Response(status: .ok, headers: [
                .contentType: "application/vnd.apple.mpegurl", .cacheControl: finished ? "public, max-age=60" : "no-cache",
            ], body: .init(byteBuffer: ByteBuffer(string: text)))
        case "timeline.json":
            let body = await RecordingStore.offload { Self.timeline(info, lines: disk.timelineLines(channel: channel, id: id)) }
            return Response(status: .ok, headers: [
                .contentType: "application/json; charset=utf-8", .cacheControl: finished ? "public, max-age=60" : "no-cache",
            ], body: .init(byteBuffer: body))
        default:
            guard let path = disk.mediaPath(channel: channel, id: id, file: file) else {
                throw APIError.notFound("no file \"\(file.prefix(64))\" in recording \"\(id)\"")
            }
            return try await media(path: path, finished: finished, request, context)
        }
    }

    /// `{"recording": {…}, "events": [{"t": seconds, "m": message}, …]}`: the lines as the recorder wrote them.
    static func timeline(_ info: RecordingInfo, lines: [Data]) -> ByteBuffer {
        var buffer = ByteBuffer(string: #"{"recording":"#)
        buffer.writeBytes((try? jsonEncoder.encode(RecordingAPI.View(info))) ?? Data("{}".utf8))
        buffer.writeString(#","events":["#)
        for (index, line) in lines.enumerated() {
            if index > 0 { buffer.writeString(",") }
            buffer.writeBytes(line)
        }
        buffer.writeString("]}")
        return buffer
    }

    static let jsonEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    /// A media file, whole or the byte range asked for (what `EXT-X-BYTERANGE` makes a player send).
    private func media(path: String, finished: Bool, _ request: Request, _ context: LiveloopRequestContext) async throws -> Response {
        let size = await RecordingStore.offload { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
        var headers: HTTPFields = [.contentType: "video/mp4", .acceptRanges: "bytes",
                                   .cacheControl: finished ? "public, max-age=86400" : "no-cache"]
        let fileIO = FileIO()
        switch ByteRange(header: request.headers[.range], size: size) {
        case .unsatisfiable:
            var error = APIError(.rangeNotSatisfiable, code: "range_not_satisfiable", message: "the file has \(size) bytes")
            error.extraHeaders[.contentRange] = "bytes */\(size)"
            throw error
        case .whole:
            headers[.contentLength] = String(size)
            let body = size == 0 ? ResponseBody() : try await fileIO.loadFile(path: path, range: 0...(size - 1), context: context)
            return Response(status: .ok, headers: headers, body: body)
        case let .partial(range):
            headers[.contentLength] = String(range.count)
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            let body = try await fileIO.loadFile(path: path, range: range, context: context)
            return Response(status: .partialContent, headers: headers, body: body)
        }
    }
}
