import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `/embed/CHANNEL`: the chrome-less player with the interactive layer, for an `<iframe>` on the customer's site
/// (options in the query: `mode`, `muted`, `autoplay`, `theme`, `show`); and `/sdk/liveloop.js`, the ES module that
/// puts it on a page as `<liveloop-player>` and speaks `postMessage` with it (docs/embedding.md).
///
/// The embed may be framed by the channel's `allowedOrigins` (CSP `frame-ancestors`), or by any page when the list
/// is empty (its postMessage API is then off). The SDK is served with CORS, since a module script from another origin
/// needs it.
struct EmbedRoutes {
    let files: [String: ByteBuffer]
    let audience: AudienceDirectory

    func register(on router: Router<LiveloopRequestContext>) {
        let files = files
        let audience = audience
        router.get("embed/:channel") { _, context in
            let channel = context.parameters.get("channel") ?? ""
            var response = try StaticRoutes.serve(files, "embed.html")
            let origins = await audience.audience(channel)?.allowedOrigins ?? []
            if let csp = HTTPField.Name("Content-Security-Policy") {
                let ancestors = origins.isEmpty ? "*" : (["'self'"] + origins).joined(separator: " ")
                response.headers[csp] = (response.headers[csp] ?? "default-src 'self'") + "; frame-ancestors \(ancestors)"
            }
            return response
        }
        router.get("sdk/liveloop.js") { _, _ in
            var response = try StaticRoutes.serve(files, "sdk/liveloop.js")
            response.headers[.accessControlAllowOrigin] = "*"
            if let policy = HTTPField.Name("Cross-Origin-Resource-Policy") { response.headers[policy] = "cross-origin" }
            return response
        }
    }
}
