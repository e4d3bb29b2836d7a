import Hummingbird
import Storage

/// Before a `/live/CHANNEL/…` request (LL-HLS, WebSocket fMP4, WHEP) is answered: when the channel is published on
/// another node, this node starts relaying it (``Relays``), so the request finds the broadcast here. Runs after the
/// playback gate, so a request refused there starts nothing.
struct RelayOnDemand<Context: RequestContext>: RouterMiddleware {
    let relays: Relays

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let channel = PlaybackGate<Context>.channel(inPath: request.uri.path), Channel.isValidName(channel) {
            await relays.ensure(channel)
        }
        return try await next(request, context)
    }
}
