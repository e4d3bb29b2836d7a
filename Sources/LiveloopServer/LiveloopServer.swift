import Foundation
import Interaction
import Hummingbird
import HummingbirdWebSocket
import LiveMedia
import Logging
import NIOCore
import Prometheus
import RTMP
import ServiceLifecycle
import Storage
import UnixSignals

/// The whole server: HTTP (API, LL-HLS, WHEP, health, metrics), WebRTC playback, RTMP and SRT ingest in one ServiceGroup; with TLS, HTTPS
/// and WSS on the HTTP port, RTMPS beside RTMP, and the certificate reloaded on SIGHUP.
public struct LiveloopServer: Sendable {
    public let configuration: ServerConfiguration
    /// Where channels, tenants, keys, settings, the interaction log and webhooks live: SQLite in the data directory, or
    /// PostgreSQL with `configuration.database`.
    public let store: any Store
    public let registry: BroadcastRegistry
    public let readiness = Readiness()
    public let logger: Logger
    public let rooms: RoomRegistry
    public let tokens: TokenAuthority
    /// Webhook events in, signed deliveries out (also the service that sends them).
    public let webhooks: WebhookDispatcher
    /// Each channel's audience settings and signing key: joining, members-only playback, embedding.
    public let audience: AudienceDirectory
    /// The relays pushing live channels to their destinations (also the service that stops them at shutdown).
    public let multistream: Multistream
    let broadcastRecorder: BroadcastRecorder
    /// Channels' rendition ladders and recording switches, with the observers that act on a change.
    public let video: ChannelVideo
    /// The recorders of channels with `record` on, and the recordings on disk (also a service: retention, shutdown).
    public let recordings: Recordings
    /// Each live channel's supervised ffmpeg making its renditions (docs/video.md).
    public let transcoders: Transcoders
    let metrics: ServerMetrics
    let connections = RTMPConnectionSet()
    let webSocketBudget: ConnectionBudget
    /// Open viewer connections per tenant, against each tenant's quota.
    let tenantViewers: TenantViewers
    /// Open connections on the HTTP port, in total and per client address.
    public let httpConnections: ConnectionLedger
    let thumbnails = Thumbnails()
    /// WHEP playback: sessions on the shared UDP port, fed from each broadcast.
    public let webrtc: WebRTCNode
    /// This node among the nodes sharing the database: its claims on the channels published here (docs/cluster.md).
    let cluster: ClusterNode
    /// The channels this node relays from the nodes that publish them.
    let relays: Relays
    /// The certificate HTTPS, WSS and RTMPS connections get; nil when the server speaks plain HTTP and RTMP only.
    public let tls: TLSCredentials?
    /// ffmpeg processes the thumbnail route has started (one per channel at a time, a few in all).
    public var thumbnailRuns: Int { thumbnails.ffmpegRuns }

    /// The store key of the HS256 secret that signs viewer and host tokens.
    public static let tokenSecretName = "jwtSecret"

    /// PostgreSQL could not be used at start (a bad URL, no answer within the timeout, refused credentials). The
    /// description names the database without its password.
    public struct DatabaseUnavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// Opens the store: the data directory's SQLite database, or PostgreSQL with `configuration.database` (creating and
    /// migrating the schema on first use either way). `DatabaseUnavailable` when PostgreSQL cannot be used.
    public init(configuration: ServerConfiguration, logger: Logger) async throws {
        self.configuration = configuration
        self.logger = logger
        // A bad certificate or key stops the server here, before it opens the database or binds a port.
        tls = try configuration.tls.map { files throws(TLSError) in try TLSCredentials(files: files) }
        if let tls { logger.info("TLS certificate loaded: \(tls.certificate)") }
        store = try await Self.openStore(configuration, logger: logger)
        registry = BroadcastRegistry(configuration: configuration.hls, gracePeriod: configuration.reconnectGrace, logger: logger)
        let cluster = try await ClusterNode(configuration: configuration, store: store, registry: registry, readiness: readiness,
                                            tls: tls != nil, logger: logger)
        self.cluster = cluster
        relays = Relays(cluster: cluster, registry: registry, idle: configuration.cluster.relayIdle, logger: logger)
        registry.observe { event in
            if case let .ended(channel, _) = event { Task { await cluster.release(channel) } }
        }
        metrics = ServerMetrics(viewers: ViewerTracker())
        video = ChannelVideo(store: store)
        transcoders = Transcoders(registry: registry, video: video, logger: logger)
        let webhooks = WebhookDispatcher(store: store, configuration: configuration.webhooks, logger: logger)
        self.webhooks = webhooks
        registry.observe { webhooks.broadcast($0) }
        let recordings = Recordings(configuration: configuration, store: store, registry: registry, video: video, webhooks: webhooks,
                                    logger: logger)
        self.recordings = recordings
        let live = LiveBroadcasts()
        rooms = RoomRegistry(store: store, logger: logger, cluster: cluster,
                             timeline: RecordingCueTimeline(live: BroadcastTimeline(registry: registry), recordings: recordings),
                             metrics: metrics.interaction,
                             onCommitted: { webhooks.roomCommitted(channel: $0, update: $1); recordings.roomCommitted(channel: $0, update: $1) },
                             liveBroadcast: { live.id(for: $0) })
        let recorder = BroadcastRecorder(rooms: rooms, live: live, logger: logger)
        broadcastRecorder = recorder
        webSocketBudget = ConnectionBudget(limit: configuration.maxWebSocketConnections)
        tenantViewers = TenantViewers(store: store)
        httpConnections = ConnectionLedger(maxTotal: configuration.httpLimits.maxConnections,
                                           maxPerAddress: configuration.httpLimits.maxConnectionsPerAddress)
        tokens = try await TokenAuthority(store: store)
        audience = AudienceDirectory(store: store)
        registry.observe { recorder.observe($0) }
        let webrtc = WebRTCNode(configuration: configuration.webrtc, host: configuration.host, logger: logger)
        self.webrtc = webrtc
        registry.observe { [registry] event in
            if case let .started(channel, _) = event, let broadcast = registry.broadcast(channel) { webrtc.prepare(broadcast) }
        }
        let multistream = try Multistream(store: store, registry: registry, configuration: configuration.multistream, logger: logger)
        self.multistream = multistream
        registry.observe { multistream.observe($0) }
    }

    private static func openStore(_ configuration: ServerConfiguration, logger: Logger) async throws -> any Store {
        guard let url = configuration.database, !url.isEmpty else {
            return try await SQLiteAsyncStore(directory: configuration.dataDirectory)
        }
        let target = PostgresURL.redacted(url)
        // The pool reports every failed connection attempt; below warning that is noise on a server's log.
        var poolLogger = logger
        if poolLogger.logLevel < .warning { poolLogger.logLevel = .warning }
        do {
            let store = try await PostgresStore(url: url, connections: configuration.databaseConnections,
                                                connectTimeout: configuration.databaseConnectTimeout, logger: poolLogger)
            logger.info("database: PostgreSQL at \(target)")
            // Reads go on from their last answers while PostgreSQL is away (docs/operations.md, "The database away").
            return LastKnownStore(store)
        } catch let error as PostgresURL.Invalid {
            throw DatabaseUnavailable(description: "\(error) (--database)")
        } catch let error as PostgresStore.Unreachable {
            throw DatabaseUnavailable(description: "cannot open the database \(target): \(error)")
        } catch {
            throw DatabaseUnavailable(description: "cannot open the database \(target): \(String(reflecting: error))")
        }
    }

    /// The RTMP URL encoders publish to (with the port actually bound, when the configuration asked for any port).
    public var rtmpURL: String {
        "rtmp://\(advertisedHost):\(readiness.boundRTMPPort ?? configuration.rtmpPort)/live"
    }

    /// The RTMPS URL (RTMP inside TLS), when TLS is configured.
    public var rtmpsURL: String? {
        guard tls != nil else { return nil }
        return "rtmps://\(advertisedHost):\(readiness.boundRTMPSPort ?? configuration.rtmpsPort)/live"
    }

    private var advertisedHost: String { configuration.publicHost ?? ProcessInfo.processInfo.hostName }

    /// The ingest URLs an API answer shows, for a request that reached the server as `requestHost` (its `Host`).
    func ingest(requestHost: String?) -> IngestEndpoints {
        IngestEndpoints(configured: configuration.publicHost, requestHost: requestHost, machine: ProcessInfo.processInfo.hostName,
                        rtmpPort: readiness.boundRTMPPort ?? configuration.rtmpPort,
                        rtmpsPort: tls == nil ? nil : readiness.boundRTMPSPort ?? configuration.rtmpsPort,
                        srtPort: readiness.boundSRTPort)
    }

    func makeRouter() -> Router<LiveloopRequestContext> {
        let router = Router(context: LiveloopRequestContext.self)
        router.add(middleware: JSONErrorMiddleware())
        router.add(middleware: PlaybackGate(audience: audience))
        router.add(middleware: RelayOnDemand(relays: relays))
        let authenticator = Authenticator(store: store, tokens: tokens, audience: audience)
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
        let httpConnections = httpConnections
        let rooms = rooms
        let webSocketBudget = webSocketBudget
        router.get("metrics") { _, _ -> Response in
            metrics.httpConnections.set(Double(httpConnections.total))
            let text = metrics.render(broadcasts: registry.all, rtmp: connections, rooms: rooms.connectionsPerRoom,
                                      webSockets: webSocketBudget.count, now: Date())
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: text))
            )
        }
        thumbnails.register(on: router, registry: registry)
        HLSRoutes(registry: registry, metrics: metrics).register(on: router)
        RelayRoutes(registry: registry, cluster: cluster).register(on: router)
        RoomLinkRoutes(rooms: rooms, cluster: cluster).register(on: router)
        ChannelAPI(store: store, registry: registry, rooms: rooms, tokens: tokens,
                   ingest: { [self] host in ingest(requestHost: host) }).register(on: router)
        TenantAPI(store: store, registry: registry, viewers: tenantViewers).register(on: router)
        RoomAPI(rooms: rooms, authenticator: authenticator, cluster: cluster).register(on: router)
        ChannelStatusAPI(store: store, registry: registry, rooms: rooms, metrics: metrics,
                         authenticator: authenticator, audience: audience).register(on: router)
        WebhookAPI(webhooks: webhooks, store: store).register(on: router)
        ChannelVideoAPI(video: video, authenticator: authenticator).register(on: router)
        RecordingAPI(recordings: recordings, store: store, authenticator: authenticator).register(on: router)
        VODRoutes(recordings: recordings, store: store).register(on: router)
        AnalyticsAPI(store: store, live: broadcastRecorder.live, authenticator: authenticator)
            .register(on: router)
        WHEPRoutes(registry: registry, node: webrtc, viewers: tenantViewers, metrics: metrics).register(on: router)
        let publishGate = PublishGate(store: store, registry: registry, logger: logger,
                                      hook: webhooks.publishHook(setupTimeout: configuration.rtmp.setupTimeout), video: video,
                                      cluster: cluster)
        WHIPRoutes(gate: publishGate, node: webrtc).register(on: router)
        JoinAPI(store: store, tokens: tokens, audience: audience).register(on: router)
        AudienceAPI(store: store, audience: audience, rooms: rooms, authenticator: authenticator).register(on: router)
        DestinationAPI(store: store, multistream: multistream, authenticator: authenticator).register(on: router)
        let statics = StaticRoutes()
        EmbedRoutes(files: statics.files, audience: audience).register(on: router)
        statics.register(on: router)
        return router
    }

    func makeWebSocketRouter() -> Router<LiveloopWebSocketContext> {
        let router = Router(context: LiveloopWebSocketContext.self)
        router.add(middleware: UpgradeRefusalMiddleware())
        router.add(middleware: JSONErrorMiddleware())
        router.add(middleware: PlaybackGate(audience: audience))
        router.add(middleware: RelayOnDemand(relays: relays))
        WebSocketGateway(rooms: rooms, budget: webSocketBudget, authenticator: Authenticator(store: store, tokens: tokens, audience: audience),
                         viewers: tenantViewers,
                         firstMessageTimeout: configuration.httpLimits.webSocketFirstMessageTimeout, logger: logger)
            .register(on: router)
        let rooms = rooms
        LiveSocket(registry: registry, metrics: metrics, budget: webSocketBudget, viewers: tenantViewers,
                   target: { channel in rooms.loadedRoom(for: channel)?.syncTargets.ws }).register(on: router)
        return router
    }

    /// The services, in start order; ServiceGroup stops them in reverse, so ingest ends broadcasts before HTTP stops.
    public func makeServiceGroup(gracefulShutdownSignals: [UnixSignal]) -> ServiceGroup {
        let readiness = readiness
        let app = Application(
            responder: HeadAnsweringResponder(inner: makeRouter().buildResponder()),
            server: GuardedHTTPChannel.builder(
                webSocketRouter: makeWebSocketRouter(),
                // RFC 6455 §8.1: a text message that is not UTF-8 fails the connection (1007).
                webSocket: .init(maxFrameSize: WebSocketGateway.maximumFrameBytes, closeTimeout: .seconds(5), validateUTF8: true),
                ledger: httpConnections, limits: configuration.httpLimits, refusals: metrics.httpRefusals, tls: tls, logger: logger
            ),
            configuration: .init(address: .hostname(configuration.host, port: configuration.httpPort), serverName: "liveloop"),
            onServerRunning: { channel in readiness.httpBound(port: channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let hook = webhooks.publishHook(setupTimeout: configuration.rtmp.setupTimeout)
        let ingest = IngestService(
            configuration: configuration, store: store, registry: registry, rooms: rooms, connections: connections,
            readiness: readiness, tls: tls, broadcastRecorder: broadcastRecorder, logger: logger, publishHook: hook, video: video,
            cluster: cluster
        )
        let srt = SRTIngestService(configuration: configuration, store: store, registry: registry, readiness: readiness, logger: logger,
                                   publishHook: hook, video: video, cluster: cluster)
        // ServiceGroup stops services in reverse: the drain first (goaway while everything runs), then the ingests,
        // and the webhook dispatcher last, so the `stream.ended` of the broadcasts the ingests end is queued.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            // Recordings stop after the ingests: they finish the recordings of the broadcasts the ingests end.
            // The cluster's heartbeat stops after the ingests (whose ended broadcasts release their claims), then the rest.
            .init(service: webhooks), .init(service: ClusterService(node: cluster, relays: relays)), .init(service: app), .init(service: WebRTCService(node: webrtc, logger: logger)),
            .init(service: multistream), .init(service: recordings), .init(service: ingest), .init(service: srt),
        ]
        if let tls { services.append(.init(service: CertificateReloadService(credentials: tls, logger: logger))) }
        services.append(.init(service: DrainService(rooms: rooms, drain: configuration.drainTime,
                                                    openSockets: { [webSocketBudget] in webSocketBudget.count }, logger: logger)))
        return ServiceGroup(configuration: .init(
            services: services,
            gracefulShutdownSignals: gracefulShutdownSignals, logger: logger
        ))
    }

    /// Runs until SIGINT or SIGTERM.
    public func run() async throws {
        try await makeServiceGroup(gracefulShutdownSignals: [.sigterm, .sigint]).run()
    }
}
