import Foundation
import HTTPTypes
import Hummingbird
import LiveMedia
import NIOCore
import Prometheus

/// The LL-HLS origin: `/live/CHANNEL/index.m3u8` (multivariant: the source and each transcoded rendition),
/// `media.m3u8` (blocking reload, delta updates), `initN.mp4`, `segN.m4s`, `partN.I.m4s` (the open part streams as it
/// is written) for the source, and the same names under `/live/CHANNEL/RENDITION/` for each rendition of the ladder
/// (`720p/media.m3u8`). All from memory.
struct HLSRoutes {
    let registry: BroadcastRegistry
    let metrics: ServerMetrics

    func register(on router: Router<LiveloopRequestContext>) {
        let group = router.group("live/:channel")
        group.get("index.m3u8") { request, context in try multivariant(request, context) }
        group.get("media.m3u8") { request, context in try await mediaPlaylist(request, context) }
        group.get(":file") { request, context in try await media(request, context) }
        // `:file` is the rendition here: the router wants one parameter name per position.
        group.get(":file/:name") { request, context in
            let name = context.parameters.get("file") ?? ""
            guard try broadcast(context).hasRendition(name) else { throw APIError.notFound("no rendition \"\(name)\"") }
            let file = context.parameters.get("name") ?? ""
            if file == "media.m3u8" { return try await mediaPlaylist(request, context, rendition: name) }
            return try await media(request, context, rendition: name, file: file)
        }
    }

    private func broadcast(_ context: LiveloopRequestContext) throws -> Broadcast {
        let name = context.parameters.get("channel") ?? ""
        guard let broadcast = registry.broadcast(name) else {
            throw APIError.notFound("channel \"\(name)\" is not live")
        }
        return broadcast
    }

    private func multivariant(_ request: Request, _ context: LiveloopRequestContext) throws -> Response {
        let broadcast = try broadcast(context)
        let variants = broadcast.variants
        guard !variants.isEmpty else {
            throw APIError.notFound("channel \"\(broadcast.channel)\" has no media yet")
        }
        var text = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        for variant in variants {
            var attributes = ["BANDWIDTH=\(variant.bandwidth)", "AVERAGE-BANDWIDTH=\(variant.averageBandwidth)", "CODECS=\"\(variant.codecs)\""]
            if variant.hasVideo, variant.width > 0 {
                attributes.append("RESOLUTION=\(variant.width)x\(variant.height)")
            }
            if let frameRate = variant.frameRate, variant.hasVideo {
                attributes.append("FRAME-RATE=\(String(format: "%.3f", frameRate))")
            }
            text += "#EXT-X-STREAM-INF:\(attributes.joined(separator: ","))\n\(variant.name.map { "\($0)/" } ?? "")media.m3u8\n"
        }
        return playlistResponse(text, maxAge: 1)
    }

    private func mediaPlaylist(_ request: Request, _ context: LiveloopRequestContext, rendition: String? = nil) async throws -> Response {
        let broadcast = try broadcast(context)
        let query = Dictionary(request.uri.queryParameters.map { (String($0.key), String($0.value)) }, uniquingKeysWith: { a, _ in a })
        let playlistRequest: PlaylistRequest
        do {
            playlistRequest = try PlaylistRequest(query: query)
        } catch let .badRequest(message) {
            throw APIError.badRequest(message)
        }
        if let address = context.remoteAddress?.ipAddress {
            metrics.viewers.touch(channel: broadcast.channel, client: address, now: Date())
        }
        do {
            let text = try await broadcast.playlist(playlistRequest, rendition: rendition)
            // A blocking request names a future state: it can be cached for long; a plain reload must stay fresh.
            return playlistResponse(text, maxAge: playlistRequest.msn == nil ? 0 : 60)
        } catch .tooFarAhead {
            throw APIError.badRequest("_HLS_msn is more than two segments ahead of the live edge")
        } catch .timedOut {
            throw APIError(.serviceUnavailable, code: "timeout", message: "the requested part did not appear in time")
        } catch .notReady {
            throw APIError.notFound("channel \"\(broadcast.channel)\" has no media yet")
        }
    }

    private func media(_ request: Request, _ context: LiveloopRequestContext, rendition: String? = nil, file: String? = nil) async throws -> Response {
        let broadcast = try broadcast(context)
        let file = file ?? context.parameters.get("file") ?? ""
        guard let resource = HLSNames.parse(file) else { throw APIError.notFound("no such file: \(file)") }
        metrics.hlsRequests.increment()
        switch resource {
        case let .initSegment(version):
            guard let bytes = broadcast.initSegment(version: version, rendition: rendition) else { throw APIError.notFound("no init segment \(version)") }
            return mediaResponse(.init(byteBuffer: bytes), contentType: "video/mp4", length: bytes.readableBytes)
        case let .segment(msn):
            guard let parts = broadcast.segment(msn: msn, rendition: rendition) else { throw APIError.notFound("no segment \(msn)") }
            let length = parts.reduce(0) { $0 + $1.readableBytes }
            return mediaResponse(.init(contentsOf: parts), contentType: "video/iso.segment", length: length)
        case let .part(msn, index):
            switch broadcast.part(msn: msn, index: index, rendition: rendition) {
            case let .complete(bytes):
                return mediaResponse(.init(byteBuffer: bytes), contentType: "video/iso.segment", length: bytes.readableBytes)
            case let .streaming(stream):
                let metrics = metrics
                let counted = stream.map { buffer -> ByteBuffer in
                    metrics.bytesOut.increment(by: Int64(buffer.readableBytes))
                    return buffer
                }
                return mediaResponse(.init(asyncSequence: counted), contentType: "video/iso.segment", length: nil)
            case .notFound:
                throw APIError.notFound("no part \(msn).\(index)")
            }
        }
    }

    private func playlistResponse(_ text: String, maxAge: Int) -> Response {
        let bytes = ByteBuffer(string: text)
        metrics.bytesOut.increment(by: Int64(bytes.readableBytes))
        var headers: HTTPFields = [
            .contentType: "application/vnd.apple.mpegurl",
            .cacheControl: maxAge == 0 ? "no-cache" : "public, max-age=\(maxAge)",
        ]
        headers[.accessControlAllowOrigin] = "*"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: bytes))
    }

    private func mediaResponse(_ body: ResponseBody, contentType: String, length: Int?) -> Response {
        if let length { metrics.bytesOut.increment(by: Int64(length)) }
        var headers: HTTPFields = [
            .contentType: contentType,
            // Parts and segments never change once named: a CDN may keep them.
            .cacheControl: "public, max-age=300, immutable",
        ]
        headers[.accessControlAllowOrigin] = "*"
        if let length { headers[.contentLength] = String(length) }
        return Response(status: .ok, headers: headers, body: body)
    }
}
