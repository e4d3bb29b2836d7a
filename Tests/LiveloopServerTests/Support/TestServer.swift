import Foundation
import LiveMedia
import LiveloopClient
import LiveloopServer
import Logging
import RTMP
import ServiceLifecycle
import SRT
import Storage

/// A real server on free ports with its own data directory, run in-process for a test.
final class TestServer: Sendable {
    let server: LiveloopServer
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let httpPort: Int
    let rtmpPort: Int
    let dataDirectory: String
    /// The server's SQLite database, opened beside it as the CLI opens it, for tests that set data up or read it back
    /// directly (synchronous calls; the server itself goes through `Store`).
    let store: SQLiteStore

    static func start(demo: Bool = false, grace: Duration = .seconds(2), hls: HLSConfiguration = HLSConfiguration(segmentTarget: 1.0),
                      maxWebSocketConnections: Int = 10_000, dataDirectory: String? = nil,
                      httpLimits: HTTPLimits = HTTPLimits(), drain: Duration = .zero,
                      rtmp: RTMPConnectionLimits = RTMPConnectionLimits(), logger customLogger: Logger? = nil,
                      srtPassphrase: String? = nil, tls: TLSFiles? = nil,
                      webhooks: WebhookConfiguration = .testing, webrtcMaxViewers: Int = 1000,
                      multistream: MultistreamConfiguration = .testing) async throws -> TestServer {
        var configuration = ServerConfiguration()
        configuration.maxWebSocketConnections = maxWebSocketConnections
        configuration.httpLimits = httpLimits
        configuration.drainTime = drain
        configuration.host = "127.0.0.1"
        configuration.httpPort = 0
        configuration.rtmpPort = 0
        configuration.rtmpsPort = 0
        configuration.tls = tls
        // Any free port, so servers in parallel tests never collide on 9000; `srtPort` says which (nil without libsrt).
        configuration.srtPort = 0
        configuration.srt.passphrase = srtPassphrase
        // WHEP on any free UDP port, announced on loopback (`server.webrtc.boundPort` says which).
        configuration.webrtc.port = 0
        configuration.webrtc.advertiseAddresses = ["127.0.0.1"]
        configuration.webrtc.maxViewers = webrtcMaxViewers
        configuration.dataDirectory = dataDirectory ?? NSTemporaryDirectory() + "liveloop-test-" + UUID().uuidString
        configuration.publicHost = "127.0.0.1"
        configuration.reconnectGrace = grace
        configuration.hls = hls
        configuration.demo = demo
        configuration.rtmp = rtmp
        configuration.webhooks = webhooks
        configuration.multistream = multistream
        var logger = customLogger ?? Logger(label: "test")
        if customLogger == nil { logger.logLevel = .warning }
        let server = try await LiveloopServer(configuration: configuration, logger: logger)
        let group = server.makeServiceGroup(gracefulShutdownSignals: [])
        let task = Task { try await group.run() }
        let ports = await server.readiness.ports()
        _ = await server.readiness.srtPort()
        return TestServer(server: server, group: group, task: task, http: ports.http, rtmp: ports.rtmp, data: configuration.dataDirectory,
                          store: try SQLiteStore(directory: configuration.dataDirectory))
    }

    private init(server: LiveloopServer, group: ServiceGroup, task: Task<Void, any Error>, http: Int, rtmp: Int, data: String,
                 store: SQLiteStore) {
        self.server = server
        self.group = group
        self.task = task
        self.httpPort = http
        self.rtmpPort = rtmp
        self.dataDirectory = data
        self.store = store
    }

    /// The SRT listener's port, or nil where libsrt is missing.
    var srtPort: Int? { server.readiness.boundSRTPort }

    func rtmpURL(key: String) -> String { "rtmp://127.0.0.1:\(rtmpPort)/live/\(key)" }

    /// The RTMPS listener's port; nil without TLS.
    var rtmpsPort: Int? { server.readiness.boundRTMPSPort }

    /// Creates a channel and returns its stream key.
    func createChannel(_ name: String) throws -> String {
        try store.createChannel(name: name).streamKey
    }

    func get(_ path: String) async throws -> HTTPConnection.Response {
        try await HTTPConnection.with(host: "127.0.0.1", port: httpPort) { try await $0.get(path) }
    }

    /// Shuts down; `keepingData` leaves the data directory for a restart on it.
    func stop(keepingData: Bool = false) async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        if !keepingData { try? FileManager.default.removeItem(atPath: dataDirectory) }
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

extension WebhookConfiguration {
    /// For tests: the receivers are on 127.0.0.1 (so private addresses are allowed) and retries come quickly.
    static var testing: WebhookConfiguration {
        var configuration = WebhookConfiguration()
        configuration.allowPrivateAddresses = true
        configuration.retry = WebhookRetryPolicy(maxAttempts: 5, base: .milliseconds(200), cap: .seconds(2), jitter: 0.2)
        configuration.requestTimeout = .seconds(3)
        return configuration
    }
}

extension MultistreamConfiguration {
    /// For tests: destinations on 127.0.0.1 (so private addresses are allowed), quick retries and deadlines.
    static var testing: MultistreamConfiguration {
        var configuration = MultistreamConfiguration()
        configuration.allowPrivateAddresses = true
        configuration.retry = WebhookRetryPolicy(maxAttempts: .max, base: .milliseconds(200), cap: .seconds(1), jitter: 0.2)
        configuration.connectTimeout = .seconds(2)
        configuration.stallTimeout = .seconds(3)
        return configuration
    }
}

extension HTTPLimits {
    /// For tests with hundreds of clients on one loopback address: no per-address cap, as behind a load balancer.
    static var crowd: HTTPLimits {
        var limits = HTTPLimits()
        limits.maxConnectionsPerAddress = 0
        return limits
    }
}
