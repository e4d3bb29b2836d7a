import Hummingbird
import NIOCore

/// On the WebSocket router: when a route refuses an upgrade (no such channel, a bad token, the server full), hands the
/// JSON error to the connection's `ConnectionGuard`, which answers with it — 401, 403, 404 or 503 with a body —
/// instead of the bare 400 the upgrader would send for any refusal.
struct UpgradeRefusalMiddleware: RouterMiddleware {
    typealias Context = LiveloopWebSocketContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let refusal = error as? APIError
                ?? APIError(.internalServerError, code: "internal", message: "the upgrade could not be handled")
            let channel = context.channel
            try? await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.handler(type: ConnectionGuard.self).refuseUpgrade(with: refusal)
            }.get()
            throw refusal
        }
    }
}
