import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Interaction
import Logging
import NIOCore
import NIOWebSocket
import Synchronization
import Storage

/// The request context of WebSocket upgrade routes.
public struct LiveloopWebSocketContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    /// The connection asking to upgrade (for `UpgradeRefusalMiddleware`).
    let channel: any NIOCore.Channel
    /// Who the upgrade check proved the caller to be, for the connection it lets through (the router hands the same
    /// context to both), so a token is verified once per connection.
    let caller = UpgradeCaller()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
    }
}

/// The identity found while deciding an upgrade, kept for the upgraded connection.
final class UpgradeCaller: Sendable {
    private let identity = Mutex<Identity?>(nil)
    func prove(_ found: Identity) { identity.withLock { $0 = found } }
    var proven: Identity? { identity.withLock { $0 } }
}

/// Who is calling: from a bearer token or `?token=`, the admin key (host), a tenant key with `channels:write` on its
/// tenant's channels (host), or nobody (a guest where the channel allows).
struct Authenticator {
    let store: any Store
    let tokens: TokenAuthority
    /// Checks tokens signed with a channel's own key (the customer's sign-in); nil: only the server's tokens.
    var audience: AudienceDirectory? = nil

    /// The channel named in the route, once the caller is proven to hold at least `minimum` on it (404 for a channel
    /// that does not exist, 403 below the role).
    func requireRole(_ minimum: Role, _ request: Request, _ context: LiveloopRequestContext,
                     refusal: String = "not allowed for your role") async throws -> String {
        let channel = context.parameters.get("channel") ?? ""
        guard try await store.channel(named: channel) != nil else { throw APIError.notFound("no channel \"\(channel)\"") }
        let identity = try await identity(for: request, channel: channel, allowGuest: false)
        guard identity.role >= minimum else { throw APIError(.forbidden, code: "forbidden", message: refusal) }
        return channel
    }

    func identity(for request: Request, channel: String, allowGuest: Bool) async throws -> Identity {
        let bearer = request.headers[.authorization].flatMap { header -> String? in
            header.lowercased().hasPrefix("bearer ") ? String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces) : nil
        }
        let token = bearer ?? request.uri.queryParameters.get("token")
        guard let token, !token.isEmpty else {
            guard allowGuest else { throw APIError.unauthorized }
            return Identity(sub: "guest-" + UUID().uuidString.prefix(12).lowercased(), name: "guest", role: .guest)
        }
        if token.hasPrefix("ak_") {
            guard try await store.verifyAdminKey(token) else { throw APIError.unauthorized }
            return Identity(sub: "admin", name: "Admin", role: .host)
        }
        if token.hasPrefix(APIKey.secretPrefix) { return try await tenantKeyIdentity(token, channel: channel) }
        if let audience, AudienceDirectory.isChannelKeyToken(token) { return try await channelKeyIdentity(token, channel: channel, audience) }
        do {
            return try await tokens.identity(token: token, channel: channel)
        } catch .wrongChannel {
            throw APIError(.forbidden, code: "forbidden", message: "this token is for another channel")
        } catch .revoked {
            throw APIError(.unauthorized, code: "unauthorized", message: "this token has been revoked")
        } catch {
            throw APIError(.unauthorized, code: "unauthorized", message: "invalid or expired token")
        }
    }
}

/// `GET /api/v1/channels/CHANNEL/ws`: the interaction protocol (docs/protocol.md) over WebSocket.
struct WebSocketGateway {
    let rooms: RoomRegistry
    let budget: ConnectionBudget
    let authenticator: Authenticator
    /// Each tenant's viewer quota (hosts and moderators are not counted).
    let viewers: TenantViewers
    /// A connection that has sent no message this long after its upgrade is closed (policy violation, 1008).
    let firstMessageTimeout: Duration
    let logger: Logger

    /// Frames above this are refused with a `too_large` error frame; the connection stays.
    static let maximumMessageBytes = 16 * 1024
    /// Frames above this close the connection (1009), before they are buffered.
    static let maximumFrameBytes = 64 * 1024
    /// Per-connection token bucket.
    static let connectionRate = RateLimit(burst: 40, perSecond: 20)

    func register(on router: Router<LiveloopWebSocketContext>) {
        let rooms = rooms
        let authenticator = authenticator
        let logger = logger
        let budget = budget
        let viewers = viewers
        router.ws("api/v1/channels/:channel/ws") { request, context in
            guard budget.count < budget.limit else { throw ConnectionBudget.full }
            let channel = context.parameters.get("channel") ?? ""
            guard let host = try await rooms.resolve(channel) else { throw APIError.notFound("no channel \"\(channel)\"") }
            let identity = try await authenticator.identity(for: request, channel: channel, allowGuest: host.allowsGuests)
            if identity.role < .moderator, let refusal = await viewers.refusal(channel: channel) { throw refusal }
            context.caller.prove(identity)
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            guard budget.acquire() else {
                try await outbound.close(.unexpectedServerError, reason: "server full")
                return
            }
            defer { budget.release() }
            let channel = context.requestContext.parameters.get("channel") ?? ""
            guard let host = try await rooms.resolve(channel) else { return }
            let identity: Identity
            if let proven = context.requestContext.caller.proven {
                identity = proven
            } else {
                identity = try await authenticator.identity(for: context.request, channel: channel, allowGuest: host.allowsGuests)
            }
            var lease: TenantViewers.Lease?
            if identity.role < .moderator {
                do {
                    lease = try await viewers.admit(channel: channel)
                } catch {
                    // Another upgrade took the last slot since this one was answered.
                    try await outbound.close(.policyViolation, reason: "tenant viewer quota reached")
                    return
                }
            }
            defer { lease.map(viewers.release) }
            let lastSeq = context.request.uri.queryParameters.get("lastSeq").flatMap { UInt64($0) }
            // The room writes this client's frames straight into its channel; the stream only tells when it is done.
            let (ended, endSignal) = AsyncStream.makeStream(of: Void.self)
            let connection: ClientConnection
            do throws(InteractionError) {
                connection = try host.connect(identity, lastSeq: lastSeq, channel: context.requestContext.channel, ended: endSignal)
            } catch {
                if let bytes = ClientConnection.frame(ServerEnvelope(.error(.init(error)))) {
                    try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: bytes)))
                }
                try await outbound.close(.policyViolation, reason: error.message)
                return
            }
            // Three parts end the connection, whichever comes first: the room closing this client (or dropping it as
            // too slow), the client closing or breaking the protocol, and a client that never says anything.
            enum Ending { case writer, reader((any Error)?), silent, spoke }
            let spoke = FirstMessage()
            let ending = await withTaskGroup(of: Ending.self) { group -> Ending in
                group.addTask {
                    for await _ in ended {}
                    return .writer
                }
                group.addTask {
                    var bucket = TokenBucket(limit: Self.connectionRate, at: Timestamp(Date()))
                    do {
                        for try await message in inbound.messages(maxSize: Self.maximumFrameBytes) {
                            spoke.arrived()
                            guard case let .text(text) = message else {
                                rooms.metrics?.refused(.malformed)
                                host.sendDirect(ServerEnvelope(.error(.init(InteractionError(.badRequest, "only JSON text frames are accepted")))), to: connection)
                                continue
                            }
                            switch ClientRequest.decode(text, maxBytes: Self.maximumMessageBytes) {
                            case let .failure(rejection):
                                rooms.metrics?.refused(.malformed)
                                host.sendDirect(rejection.reply, to: connection)
                            case let .success(request):
                                guard bucket.take(at: Timestamp(Date())) else {
                                    rooms.metrics?.refused(.rateLimited)
                                    host.sendDirect(ServerEnvelope(id: request.id, .error(.init(InteractionError(.rateLimited, "too many messages on this connection")))), to: connection)
                                    continue
                                }
                                host.handle(request, text: text, from: identity, sender: connection)
                            }
                        }
                        return .reader(nil)
                    } catch {
                        // A protocol violation (invalid UTF-8, a stray continuation, a message over the limit) carries
                        // the close code RFC 6455 gives it; the library sends that code when this handler rethrows it.
                        logger.debug("WebSocket closed: \(error)")
                        return .reader(error)
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: firstMessageTimeout)
                    return spoke.hasArrived || Task.isCancelled ? .spoke : .silent
                }
                var ending = Ending.spoke
                while let next = await group.next() {
                    if case .spoke = next { continue }
                    ending = next
                    break
                }
                group.cancelAll()
                return ending
            }
            host.disconnect(connection)
            switch ending {
            case .writer, .spoke, .reader(nil):
                try? await outbound.close(.normalClosure, reason: nil)
            case let .reader(error?):
                throw error
            case .silent:
                logger.info("WebSocket closed: no message within \(firstMessageTimeout)")
                try? await outbound.close(.policyViolation, reason: "no message within \(firstMessageTimeout)")
            }
        }
    }
}

/// Whether a connection has sent anything yet, shared by its reader and its first-message deadline.
private final class FirstMessage: Sendable {
    private let seen = Atomic<Bool>(false)
    func arrived() { seen.store(true, ordering: .relaxed) }
    var hasArrived: Bool { seen.load(ordering: .relaxed) }
}
