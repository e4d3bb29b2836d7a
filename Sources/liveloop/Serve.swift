import ArgumentParser
import Foundation
import LiveMedia
import LiveloopServer
import NIOCore
import Logging
import RTMP
import SRT
import Storage

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server: HTTP (API, LL-HLS, WHEP, health, metrics), WebRTC playback, RTMP and SRT ingest.")

    @Option(help: "Address to listen on (LIVELOOP_HOST).")
    var host = "0.0.0.0"
    @Option(help: "HTTP port: API, LL-HLS, /healthz, /metrics (LIVELOOP_HTTP_PORT).")
    var httpPort = 8080
    @Option(help: "RTMP ingest port (LIVELOOP_RTMP_PORT).")
    var rtmpPort = 1935
    @Option(help: "TLS certificate chain, PEM (server certificate first, then intermediates): the HTTP port serves HTTPS and WSS only, and RTMPS opens on --rtmps-port. Needs --tls-key; reloaded with the key on SIGHUP (LIVELOOP_TLS_CERT).")
    var tlsCert: String?
    @Option(help: "TLS private key, PEM, unencrypted (LIVELOOP_TLS_KEY).")
    var tlsKey: String?
    @Option(help: "RTMPS ingest port (RTMP inside TLS), open only with --tls-cert; plain RTMP stays on --rtmp-port (LIVELOOP_RTMPS_PORT).")
    var rtmpsPort = 1936
    @Option(help: "SRT ingest port, UDP (LIVELOOP_SRT_PORT); callers put the stream key in streamid. Needs libsrt at run time.")
    var srtPort = 9000
    @Option(help: "SRT passphrase, 10–79 characters: callers must encrypt with it (LIVELOOP_SRT_PASSPHRASE); none by default.")
    var srtPassphrase: String?
    @Option(help: "SRT receiver latency in milliseconds: time allowed for retransmissions (LIVELOOP_SRT_LATENCY).")
    var srtLatency = 120
    @Option(help: "Most SRT publishers connected at once; more are refused at the handshake (LIVELOOP_MAX_SRT_CONNECTIONS).")
    var maxSrtConnections = 16
    @Option(help: "WebRTC port, UDP: STUN, DTLS and SRTP of every WHEP viewer and WHIP publisher share it (LIVELOOP_WEBRTC_PORT). Needs OpenSSL 3 (libssl3) at run time.")
    var webrtcPort = 8189
    @Option(help: "IP addresses (comma-separated) WHEP answers give viewers as host candidates: the public or NAT address that forwards --webrtc-port (LIVELOOP_WEBRTC_ADVERTISE_ADDRESS); by default the listen address, or with 0.0.0.0 every IPv4 address of this machine.")
    var webrtcAdvertiseAddress: String?
    @Option(help: "Most WebRTC viewers on this node; one more is answered 503 server_full (LIVELOOP_WEBRTC_MAX_VIEWERS).")
    var webrtcMaxViewers = 1000
    @Option(name: .customLong("data"), help: "Data directory: the SQLite database (unless --database) and the recordings (LIVELOOP_DATA).")
    var dataDirectory = "./liveloop-data"
    @Option(help: "PostgreSQL instead of SQLite: postgres://user[:password]@host[:port]/database[?sslmode=disable|require]; the schema is migrated at start, and every node given the same URL shares channels, keys, settings, votes and webhooks (LIVELOOP_DATABASE).")
    var database: String?
    @Option(help: "Most PostgreSQL connections in the server's pool, with --database (LIVELOOP_DATABASE_CONNECTIONS).")
    var databaseConnections = 16
    @Option(help: "This node's name among the nodes sharing --database, unique to it; by default this machine's name and the HTTP port (LIVELOOP_NODE_ID).")
    var nodeId: String?
    @Option(help: "URL the other nodes reach this node's HTTP port by, to relay the channels published here, e.g. http://10.0.0.5:8080; by default http://127.0.0.1:PORT, which only nodes on this machine can use (LIVELOOP_NODE_ADDRESS).")
    var nodeAddress: String?
    @Option(help: "Host name encoders reach this server by, in the RTMP, RTMPS and SRT URLs it prints and the channel API answers (LIVELOOP_PUBLIC_HOST); without it the API uses the host each request came by, and the startup line this machine's name (a guess).")
    var publicHost: String?
    @Option(help: "LL-HLS part target in seconds (LIVELOOP_PART_TARGET).")
    var partTarget = 0.2
    @Option(help: "Minimum segment duration in seconds; segments close at the next keyframe (LIVELOOP_SEGMENT_TARGET).")
    var segmentTarget = 2.0
    @Option(help: "Completed segments kept in memory and listed per playlist (LIVELOOP_SEGMENTS).")
    var segments = 10
    @Option(help: "Seconds, on SIGTERM, between the goaway sent to every interaction client and the sockets closing: time to reconnect to another node (LIVELOOP_DRAIN).")
    var drain = 2.0
    @Option(help: "Seconds a dropped publisher has to reconnect and continue the same broadcast (LIVELOOP_RECONNECT_GRACE).")
    var reconnectGrace = 10.0
    @Flag(help: "Publish the built-in looping clip on the 'demo' channel (LIVELOOP_DEMO=1).")
    var demo = false
    @Option(help: "Most open connections on the HTTP port, HTTP and WebSocket together (503 server_full past it); 0 = the file-descriptor limit less 512 (LIVELOOP_MAX_CONNECTIONS).")
    var maxConnections = 0
    @Option(help: "Most open HTTP-port connections from one client address (429 too_many_connections past it); 0 = no cap, for a server behind a reverse proxy (LIVELOOP_MAX_CONNECTIONS_PER_ADDRESS).")
    var maxConnectionsPerAddress = 256
    @Option(help: "Seconds a client has to send a whole request head (408 and a close after it) (LIVELOOP_HEADER_TIMEOUT).")
    var headerTimeout = 10.0
    @Option(help: "Seconds a kept-alive HTTP connection may sit idle between requests (LIVELOOP_IDLE_TIMEOUT).")
    var idleTimeout = 60.0
    @Option(help: "Bytes a request head may take (431 and a close past it) (LIVELOOP_MAX_HEADER_BYTES).")
    var maxHeaderBytes = 16384
    @Option(help: "Seconds a connection may read nothing of what the server sends before it is closed and its queue freed (LIVELOOP_SLOW_CLIENT_TIMEOUT).")
    var slowClientTimeout = 10.0
    @Option(help: "Kernel send buffer per HTTP-port connection in bytes (SO_SNDBUF): bounds what a client that reads nothing holds before --slow-client-timeout counts; 0 = the kernel's autotuning (LIVELOOP_SEND_BUFFER_BYTES).")
    var sendBufferBytes = 0
    @Option(help: "Seconds an interaction WebSocket has to send its first message (LIVELOOP_FIRST_MESSAGE_TIMEOUT).")
    var firstMessageTimeout = 10.0
    @Option(help: "A TOML file with any of these options, named without the dashes (http-port = 9000); the command line and the environment win over it (LIVELOOP_CONFIG).")
    var config: String?
    @Option(help: "Most open RTMP connections in total; one more is closed at once (LIVELOOP_RTMP_MAX_CONNECTIONS).")
    var rtmpMaxConnections = 1000
    @Option(help: "Most open RTMP connections from one address (an IPv6 /64 counts as one) (LIVELOOP_RTMP_MAX_CONNECTIONS_PER_ADDRESS).")
    var rtmpMaxConnectionsPerAddress = 10
    @Option(help: "Seconds an RTMP connection has from connecting to an accepted publish (LIVELOOP_RTMP_SETUP_TIMEOUT).")
    var rtmpSetupTimeout = 10.0
    @Option(help: "Seconds an RTMP connection may go without sending one whole message; trickled bytes do not count (LIVELOOP_RTMP_IDLE_TIMEOUT).")
    var rtmpIdleTimeout = 30.0
    @Flag(help: "Let webhooks go to loopback and private-network addresses too; off, such URLs are refused (SSRF) (LIVELOOP_WEBHOOK_ALLOW_PRIVATE=1).")
    var webhookAllowPrivate = false
    @Option(help: "Attempts per webhook delivery before it is marked failed (LIVELOOP_WEBHOOK_MAX_ATTEMPTS).")
    var webhookMaxAttempts = 8
    @Option(help: "Seconds before the first retry of a failed webhook delivery; each further retry waits twice as long, ±20 % (LIVELOOP_WEBHOOK_RETRY_BASE).")
    var webhookRetryBase = 30.0
    @Option(help: "Seconds one webhook attempt may take, connect to answer (LIVELOOP_WEBHOOK_TIMEOUT).")
    var webhookTimeout = 10.0
    @Option(help: "Webhook attempts in flight at once (LIVELOOP_WEBHOOK_CONCURRENCY).")
    var webhookConcurrency = 8
    @Option(help: "Most webhooks the server keeps (LIVELOOP_MAX_WEBHOOKS).")
    var maxWebhooks = 100
    @Option(help: "URL asked before every publish: POST {channel, protocol, remoteAddress}, signed; {\"allow\":true} lets it start (LIVELOOP_PUBLISH_HOOK).")
    var publishHook: String?
    @Option(help: "Secret that signs the publish hook's requests; required with --publish-hook (LIVELOOP_PUBLISH_HOOK_SECRET).")
    var publishHookSecret: String?
    @Option(help: "Seconds the publish hook has to answer; no answer refuses the publish; at most --rtmp-setup-timeout (LIVELOOP_PUBLISH_HOOK_TIMEOUT).")
    var publishHookTimeout = 5.0
    @Option(help: "Days a recording is kept after it ended; older ones are removed at start and every hour; 0 keeps them until deleted (LIVELOOP_RECORDING_RETENTION_DAYS).")
    var recordingRetentionDays = 30
    @Option(help: "Most multistream destinations one channel may have (LIVELOOP_MAX_DESTINATIONS).")
    var maxDestinations = 5
    @Flag(help: "Let multistream destinations be loopback and private-network addresses too; off, such URLs are refused (SSRF) (LIVELOOP_DESTINATION_ALLOW_PRIVATE=1).")
    var destinationAllowPrivate = false
    @Option(help: "A PEM file of certificate authorities that rtmps:// destinations are checked against instead of the system's (LIVELOOP_DESTINATION_CA_FILE).")
    var destinationCaFile: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (LIVELOOP_LOG_LEVEL).")
    var logLevel = "info"
    @Option(help: "Log lines on standard error: text, or json for one JSON object per line with ts, level, label, msg, metadata fields and source (LIVELOOP_LOG_FORMAT).")
    var logFormat = "text"

    func validate() throws {
        guard (0...65535).contains(httpPort), (0...65535).contains(rtmpPort), (0...65535).contains(srtPort),
              (0...65535).contains(rtmpsPort), (0...65535).contains(webrtcPort) else { throw ValidationError("ports must be 0–65535") }
        guard (1...200).contains(databaseConnections) else { throw ValidationError("--database-connections must be 1–200") }
        if let nodeId, !(1...64).contains(nodeId.count) || !nodeId.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) }) {
            throw ValidationError("--node-id must be 1–64 of letters, digits, '-', '_', '.', ':'")
        }
        if let nodeAddress, URL(string: nodeAddress).map({ ["http", "https"].contains($0.scheme ?? "") && $0.host != nil }) != true {
            throw ValidationError("--node-address must be an http:// or https:// URL, e.g. http://10.0.0.5:8080")
        }
        if let database, !database.isEmpty {
            do { _ = try PostgresURL.configuration(database) } catch { throw ValidationError("--database: \(error)") }
        }
        guard (1...100_000).contains(webrtcMaxViewers) else { throw ValidationError("--webrtc-max-viewers must be 1–100000") }
        for address in webrtcAddresses where (try? SocketAddress(ipAddress: address, port: 0)) == nil {
            throw ValidationError("--webrtc-advertise-address: \(address) is not an IP address")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together: give both or neither") }
        if tlsCert != nil, rtmpsPort != 0, rtmpsPort == rtmpPort {
            throw ValidationError("--rtmps-port must differ from --rtmp-port")
        }
        guard partTarget >= 0.05, partTarget <= 2 else { throw ValidationError("--part-target must be between 0.05 and 2 seconds") }
        guard segmentTarget >= partTarget, segmentTarget <= 30 else {
            throw ValidationError("--segment-target must be at least the part target and at most 30 seconds")
        }
        guard segments >= 3, segments <= 1000 else { throw ValidationError("--segments must be 3–1000") }
        guard reconnectGrace >= 0, reconnectGrace <= 3600 else { throw ValidationError("--reconnect-grace must be 0–3600 seconds") }
        guard rtmpMaxConnections >= 1, rtmpMaxConnectionsPerAddress >= 1 else {
            throw ValidationError("--rtmp-max-connections and --rtmp-max-connections-per-address must be at least 1")
        }
        guard rtmpSetupTimeout >= 1, rtmpSetupTimeout <= 600, rtmpIdleTimeout >= 1, rtmpIdleTimeout <= 3600 else {
            throw ValidationError("--rtmp-setup-timeout must be 1–600 seconds and --rtmp-idle-timeout 1–3600 seconds")
        }
        if let srtPassphrase, !(10...79).contains(srtPassphrase.utf8.count) {
            throw ValidationError("--srt-passphrase must be 10–79 characters")
        }
        guard (20...8000).contains(srtLatency) else { throw ValidationError("--srt-latency must be 20–8000 ms") }
        guard (1...1000).contains(maxSrtConnections) else { throw ValidationError("--max-srt-connections must be 1–1000") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be text or json") }
        guard drain >= 0, drain <= 600 else { throw ValidationError("--drain must be 0–600 seconds") }
        guard maxConnections >= 0, maxConnectionsPerAddress >= 0 else { throw ValidationError("connection caps must be 0 or more") }
        for (name, seconds) in [("--header-timeout", headerTimeout), ("--idle-timeout", idleTimeout),
                                ("--slow-client-timeout", slowClientTimeout), ("--first-message-timeout", firstMessageTimeout)] {
            guard seconds >= 0.1, seconds <= 3600 else { throw ValidationError("\(name) must be 0.1–3600 seconds") }
        }
        guard sendBufferBytes == 0 || (4096...(64 << 20)).contains(sendBufferBytes) else {
            throw ValidationError("--send-buffer-bytes must be 0 or 4096–67108864")
        }
        guard (1024...1_048_576).contains(maxHeaderBytes) else { throw ValidationError("--max-header-bytes must be 1024–1048576") }
        guard (1...20).contains(webhookMaxAttempts) else { throw ValidationError("--webhook-max-attempts must be 1–20") }
        guard webhookRetryBase >= 0.1, webhookRetryBase <= 3600 else { throw ValidationError("--webhook-retry-base must be 0.1–3600 seconds") }
        guard webhookTimeout >= 1, webhookTimeout <= 60 else { throw ValidationError("--webhook-timeout must be 1–60 seconds") }
        guard (1...64).contains(webhookConcurrency) else { throw ValidationError("--webhook-concurrency must be 1–64") }
        guard (0...36_500).contains(recordingRetentionDays) else { throw ValidationError("--recording-retention-days must be 0–36500") }
        guard (0...10_000).contains(maxWebhooks) else { throw ValidationError("--max-webhooks must be 0–10000") }
        guard (0...50).contains(maxDestinations) else { throw ValidationError("--max-destinations must be 0–50") }
        if let destinationCaFile, !FileManager.default.isReadableFile(atPath: destinationCaFile) {
            throw ValidationError("--destination-ca-file \(destinationCaFile) cannot be read")
        }
        if let publishHook {
            do { try WebhookURLPolicy(allowPrivateAddresses: true).check(publishHook) } catch {
                throw ValidationError("--publish-hook: \(error)")
            }
            guard let secret = publishHookSecret, secret.utf8.count >= 16 else {
                throw ValidationError("--publish-hook needs --publish-hook-secret of at least 16 characters")
            }
        }
        guard publishHookTimeout >= 0.1, publishHookTimeout <= rtmpSetupTimeout else {
            throw ValidationError("--publish-hook-timeout must be 0.1 seconds to --rtmp-setup-timeout")
        }
    }

    private var webrtcAddresses: [String] {
        (webrtcAdvertiseAddress ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let format = LogFormat(rawValue: logFormat) ?? .text
        LoggingSystem.bootstrap { label in
            switch format {
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                // Client text (stream names, RTMP commands, paths) reaches log lines: escaped, it cannot forge one.
                return EscapingLogHandler(wrapping: handler)
            case .json:
                // JSON string escaping does the same for the JSON format.
                var handler = JSONLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.httpPort = httpPort
        configuration.rtmpPort = rtmpPort
        configuration.rtmpsPort = rtmpsPort
        if let tlsCert, let tlsKey { configuration.tls = TLSFiles(certificate: tlsCert, key: tlsKey) }
        configuration.srtPort = srtPort
        configuration.srt.passphrase = srtPassphrase
        configuration.srt.latencyMilliseconds = srtLatency
        configuration.srt.maxConnections = maxSrtConnections
        configuration.webrtc.port = webrtcPort
        configuration.webrtc.advertiseAddresses = webrtcAddresses
        configuration.webrtc.maxViewers = webrtcMaxViewers
        configuration.dataDirectory = dataDirectory
        configuration.database = database
        configuration.databaseConnections = databaseConnections
        configuration.cluster.nodeID = nodeId
        configuration.cluster.nodeAddress = nodeAddress
        configuration.publicHost = publicHost
        configuration.hls = HLSConfiguration(partTarget: partTarget, segmentTarget: segmentTarget, segmentCount: segments)
        configuration.reconnectGrace = .milliseconds(Int64(reconnectGrace * 1000))
        configuration.demo = demo
        configuration.drainTime = .milliseconds(Int64(drain * 1000))
        configuration.rtmp = RTMPConnectionLimits(
            maximumConnections: rtmpMaxConnections, maximumConnectionsPerAddress: rtmpMaxConnectionsPerAddress,
            setupTimeout: .milliseconds(Int64(rtmpSetupTimeout * 1000)), idleTimeout: .milliseconds(Int64(rtmpIdleTimeout * 1000))
        )
        // Every connection is a file descriptor: use all the process may have, and stop accepting WebSocket
        // clients well before the limit instead of failing somewhere deep in the runtime.
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let descriptors = Int(clamping: limit.rlim_cur)
        let connections = maxConnections > 0 ? maxConnections : max(64, descriptors - 512)
        configuration.maxWebSocketConnections = connections
        configuration.httpLimits.maxConnections = connections
        configuration.httpLimits.maxConnectionsPerAddress = maxConnectionsPerAddress
        configuration.httpLimits.headerReadTimeout = .milliseconds(Int64(headerTimeout * 1000))
        configuration.httpLimits.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
        configuration.httpLimits.maxRequestHeadBytes = maxHeaderBytes
        configuration.httpLimits.slowConsumerTimeout = .milliseconds(Int64(slowClientTimeout * 1000))
        configuration.httpLimits.sendBufferBytes = sendBufferBytes > 0 ? sendBufferBytes : nil
        configuration.httpLimits.webSocketFirstMessageTimeout = .milliseconds(Int64(firstMessageTimeout * 1000))
        configuration.webhooks.allowPrivateAddresses = webhookAllowPrivate
        configuration.webhooks.retry.maxAttempts = webhookMaxAttempts
        configuration.webhooks.retry.base = .milliseconds(Int64(webhookRetryBase * 1000))
        configuration.webhooks.requestTimeout = .milliseconds(Int64(webhookTimeout * 1000))
        configuration.webhooks.maxConcurrentDeliveries = webhookConcurrency
        configuration.webhooks.maxWebhooks = maxWebhooks
        configuration.recordingRetentionDays = recordingRetentionDays
        configuration.webhooks.publishHookURL = publishHook
        configuration.webhooks.publishHookSecret = publishHookSecret
        configuration.webhooks.publishHookTimeout = .milliseconds(Int64(publishHookTimeout * 1000))
        configuration.multistream.maxPerChannel = maxDestinations
        configuration.multistream.allowPrivateAddresses = destinationAllowPrivate
        configuration.multistream.trustedCAFile = destinationCaFile

        // A port another process holds: say which before anything starts (the bind error alone names none).
        var tcpPorts = [("HTTP", "--http-port", httpPort), ("RTMP", "--rtmp-port", rtmpPort)]
        if tlsCert != nil { tcpPorts.append(("RTMPS", "--rtmps-port", rtmpsPort)) }
        for (name, option, port) in tcpPorts where port != 0 && PortCheck.isTaken(host: host, port: port) {
            FileHandle.standardError.write(Data("liveloop: the \(name) port \(port) is already in use on \(host) (another liveloop or server; `ss -ltnp 'sport = :\(port)'` names it): stop it or choose another port with \(option)\n".utf8))
            throw ExitCode(75)
        }
        let server: LiveloopServer
        do {
            server = try await LiveloopServer(configuration: configuration, logger: Logger(label: "liveloop"))
        } catch let error as TLSError {
            // A certificate or key that cannot be used: say which and why, and serve nothing.
            FileHandle.standardError.write(Data("liveloop: TLS: \(error)\n".utf8))
            throw ExitCode(78)
        } catch let error as LiveloopServer.DatabaseUnavailable {
            // Down, unreachable, refused: say so once, without the password, and serve nothing.
            FileHandle.standardError.write(Data("liveloop: \(error)\n".utf8))
            throw ExitCode(69)
        }
        if let key = try await server.store.ensureAdminKey() {
            print("""

            ┌─ First start: this is your admin API key. It is shown once; keep it safe. ─────────────
            │  \(key)
            │  Use it as 'Authorization: Bearer <key>' on /api/v1. Lost it? 'liveloop admin-key rotate'.
            └────────────────────────────────────────────────────────────────────────────────────────

            """)
        }
        // A certificate names the public host, not localhost: with TLS, the URL printed is the one it is valid for.
        let webHost = (server.tls != nil ? publicHost : nil) ?? (host == "0.0.0.0" ? "localhost" : host)
        let web = "\(server.tls == nil ? "http" : "https")://\(webHost):\(httpPort)"
        let rtmps = server.rtmpsURL.map { "  RTMPS on \($0)" } ?? ""
        print("Liveloop: \(server.tls == nil ? "HTTP" : "HTTPS") on \(web)  RTMP on \(server.rtmpURL)\(rtmps)  SRT on udp port \(srtPort)  WebRTC on udp port \(webrtcPort)")
        if publicHost == nil {
            print("Ingest URLs name this machine (\(ProcessInfo.processInfo.hostName)), a guess: set --public-host to the name encoders reach it by; the API and the admin page use the host each request came by.")
        }
        if demo { print("Demo channel: \(web)/watch/demo  (LL-HLS: /live/demo/index.m3u8)") }
        // Shown once: make sure it reaches a redirected stdout (a log file) before the server runs for days.
        fflush(nil)
        try await server.run()
    }
}

/// Whether a TCP port cannot be listened on (bound and let go at once, with SO_REUSEADDR as the server binds it).
enum PortCheck {
    static func isTaken(host: String, port: Int) -> Bool {
        guard let address = try? SocketAddress.makeAddressResolvingHost(host, port: port) else { return false }
        let descriptor = socket(address.protocol.rawValue, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var yes: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withSockAddr { bind(descriptor, $0, socklen_t($1)) }
        return bound != 0 && errno == EADDRINUSE
    }
}
