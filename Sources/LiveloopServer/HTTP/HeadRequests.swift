import HTTPTypes
import Hummingbird

/// `HEAD` on any `GET` route: the route answers as for `GET` and the body is left out, its `Content-Length` kept
/// (players and CDNs probe playlists and media this way). It wraps the router's responder because the router matches
/// routes by method before any middleware runs.
struct HeadAnsweringResponder<Inner: HTTPResponder>: HTTPResponder {
    let inner: Inner

    func respond(to request: Request, context: Inner.Context) async throws -> Response {
        guard request.method == .head else { return try await inner.respond(to: request, context: context) }
        var head = request.head
        head.method = .get
        var response = try await inner.respond(to: Request(head: head, body: request.body), context: context)
        let length = response.headers[.contentLength]
        response.body = ResponseBody()
        response.headers[.contentLength] = length
        return response
    }
}
