import Hummingbird
import NIOCore

/// The request context of every route: Hummingbird's core storage plus the client's address.
public struct LiveloopRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The API key's owner, set by `APIKeyMiddleware` on the routes behind it.
    var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// JSON bodies are small; anything larger is refused before decoding.
    public var maxUploadSize: Int { 64 * 1024 }
}
