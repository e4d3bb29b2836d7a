import Foundation
import Hummingbird
import LiveMedia
import Logging
import NIOCore
import RTMP
import ServiceLifecycle
import Storage
import UnixSignals

/// The whole server: HTTP (API, LL-HLS, health, metrics) and RTMP ingest in one ServiceGroup.
public struct LiveloopServer: Sendable {
    public let configuration: ServerConfiguration
    public let store: SQLiteStore
    public let registry: BroadcastRegistry
    public let readiness = Readiness()
    public let logger: Logger
    let metrics: ServerMetrics
    let connections = RTMPConnectionSet()

    /// Opens the data directory. Returns the admin API key in `newAdminKey` when this is the first start.
    public init(configuration: ServerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        store = try SQLiteStore(directory: configuration.dataDirectory)
        registry = BroadcastRegistry(configuration: configuration.hls, gracePeriod: configuration.reconnectGrace, logger: logger)
        metrics = ServerMetrics(viewers: ViewerTracker())
    }

    /// The RTMP URL encoders publish to.
    public var rtmpURL: String {
        let host = configuration.publicHost ?? ProcessInfo.processInfo.hostName
        return "rtmp://\(host):\(configuration.rtmpPort)/live"
    }

    func makeRouter() -> Router<LiveloopRequestContext> {
        let router = Router(context: LiveloopRequestContext.self)
        router.add(middleware: JSONErrorMiddleware())
        let readiness = readiness
        router.get("healthz") { _, _ -> Response in
            guard readiness.isReady else {
                throw APIError(.serviceUnavailable, code: "starting", message: "the server is starting")
            }
            return try jsonResponse(.ok, ["status": "ok"])
        }
        let metrics = metrics
        let registry = registry
        let connections = connections
        router.get("metrics") { _, _ -> Response in
            let text = metrics.render(broadcasts: registry.all, rtmp: connections, now: Date())
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: text))
            )
        }
        HLSRoutes(registry: registry, metrics: metrics).register(on: router)
        let url = rtmpURL
        ChannelAPI(store: store, registry: registry, rtmpURL: { url }).register(on: router)
        return router
    }

    /// The services, in start order; ServiceGroup stops them in reverse, so ingest ends broadcasts before HTTP stops.
    public func makeServiceGroup(gracefulShutdownSignals: [UnixSignal]) -> ServiceGroup {
        let readiness = readiness
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.httpPort), serverName: "liveloop"),
            onServerRunning: { channel in readiness.httpBound(port: channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let ingest = IngestService(
            configuration: configuration, store: store, registry: registry, connections: connections,
            readiness: readiness, logger: logger
        )
        return ServiceGroup(configuration: .init(
            services: [.init(service: app), .init(service: ingest)],
            gracefulShutdownSignals: gracefulShutdownSignals, logger: logger
        ))
    }

    /// Runs until SIGINT or SIGTERM.
    public func run() async throws {
        try await makeServiceGroup(gracefulShutdownSignals: [.sigterm, .sigint]).run()
    }
}
