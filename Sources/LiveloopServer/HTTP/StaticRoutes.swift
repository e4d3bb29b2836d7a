import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The web experience, served from files bundled with the binary (`Sources/LiveloopServer/Web`): no build step, no
/// CDN, nothing fetched from another host. Pages: `/` (live channels), `/watch/CHANNEL` (`?recording=ID`: its replay), `/studio/CHANNEL`, `/admin`;
/// modules, styles and images under `/assets/…`; and `/api/v1/openapi.json`, the OpenAPI 3.1 document of the REST API
/// (`Web/openapi.json`, kept in the repository and checked against the live server by the tests).
struct StaticRoutes {
    /// Files by path relative to the web root, read once at start.
    let files: [String: ByteBuffer]

    /// `LIVELOOP_WEB_ROOT` (a directory like `Sources/LiveloopServer/Web`) replaces the bundled files, so a page can
    /// be edited and reloaded with a server restart instead of a rebuild.
    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        var files: [String: ByteBuffer] = [:]
        let override = environment["LIVELOOP_WEB_ROOT"].map { URL(fileURLWithPath: $0, isDirectory: true) }
        if let root = override ?? Bundle.module.resourceURL?.appendingPathComponent("Web"),
           let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) {
            for case let url as URL in enumerator {
                guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true,
                      let data = try? Data(contentsOf: url) else { continue }
                let relative = String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count + 1))
                files[relative] = ByteBuffer(bytes: data)
            }
        }
        self.files = files
    }

    func register(on router: Router<LiveloopRequestContext>) {
        let files = files
        router.get("/") { _, _ in try Self.serve(files, "index.html") }
        // `?recording=ID` replays a recording with its interactions (docs/recording.md) instead of the live channel.
        router.get("watch/:channel") { request, _ in
            try Self.serve(files, request.uri.queryParameters["recording"] == nil ? "watch.html" : "replay.html")
        }
        router.get("studio/:channel") { _, _ in try Self.serve(files, "studio.html") }
        router.get("admin") { _, _ in try Self.serve(files, "admin.html") }
        router.get("api/v1/openapi.json") { _, _ in try Self.serve(files, "openapi.json") }
        router.get("favicon.ico") { _, _ in try Self.serve(files, "assets/favicon.svg") }
        router.get("assets/**") { request, _ in
            let path = String(request.uri.path.dropFirst("/assets/".count))
            guard !path.contains("..") else { throw APIError.notFound("no such asset") }
            return try Self.serve(files, "assets/" + path)
        }
    }

    static func serve(_ files: [String: ByteBuffer], _ path: String) throws -> Response {
        guard let bytes = files[path] else { throw APIError.notFound("no such page or asset: \(path)") }
        var headers: HTTPFields = [.contentType: contentType(path), .cacheControl: "no-cache"]
        headers[.contentLength] = String(bytes.readableBytes)
        // Pages may only load what this server serves.
        if let csp = HTTPField.Name("Content-Security-Policy") {
            headers[csp] = "default-src 'self'; img-src 'self' data: blob: https:; media-src 'self' blob:; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'"
        }
        if let nosniff = HTTPField.Name("X-Content-Type-Options") { headers[nosniff] = "nosniff" }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: bytes))
    }

    static func contentType(_ path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "html": "text/html; charset=utf-8"
        case "js", "mjs": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "json": "application/json"
        case "ico": "image/x-icon"
        default: "application/octet-stream"
        }
    }
}
