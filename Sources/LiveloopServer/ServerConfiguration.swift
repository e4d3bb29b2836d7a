import Foundation
import LiveMedia
import RTMP
import SRT

/// Everything `liveloop serve` can be told. Defaults are the documented ones (`liveloop serve --help`).
public struct ServerConfiguration: Sendable {
    public var host = "0.0.0.0"
    public var httpPort = 8080
    public var rtmpPort = 1935
    /// The certificate and key (PEM) for HTTPS/WSS on the HTTP port and RTMPS; nil serves plain HTTP and no RTMPS.
    public var tls: TLSFiles?
    /// RTMPS ingest port (RTMP inside TLS), bound only with `tls`; 0 lets the system pick.
    public var rtmpsPort = 1936
    /// SRT ingest port (UDP); 0 lets the system pick.
    public var srtPort = 9000
    /// SRT listener settings: passphrase, latency, connection cap and deadlines (host and port come from above).
    public var srt = SRTListener.Configuration()
    /// The SQLite database (unless `database` is set) and the recordings.
    public var dataDirectory = "./liveloop-data"
    /// A PostgreSQL URL (`postgres://user[:password]@host[:port]/database[?sslmode=…]`): channels, tenants, keys,
    /// settings, the interaction log and webhooks live there instead of SQLite; nil keeps SQLite in `dataDirectory`.
    public var database: String?
    /// Most PostgreSQL connections the server's pool opens.
    public var databaseConnections = 16
    /// How long the server waits at start for PostgreSQL to answer (and the schema to be migrated) before it gives up.
    public var databaseConnectTimeout: Duration = .seconds(10)
    /// Host name put in the RTMP URLs we print; the machine's own when unset.
    public var publicHost: String?
    public var hls = HLSConfiguration()
    /// How long a dropped publisher may take to come back and continue the same broadcast.
    public var reconnectGrace: Duration = .seconds(10)
    /// Publish the built-in clip on the `demo` channel.
    public var demo = false
    /// Open WebSocket connections (interaction and sub-second video together) beyond which upgrades are refused with
    /// 503, so a flood of clients meets a clear answer instead of the process's file-descriptor limit.
    public var maxWebSocketConnections = 10_000
    /// On SIGTERM: how long clients have, after `goaway`, to reconnect elsewhere before the sockets close.
    public var drainTime: Duration = .seconds(2)
    /// Connection caps and timeouts on the HTTP port.
    public var httpLimits = HTTPLimits()
    /// RTMP connection caps (in total, per client address) and deadlines (setup: handshake to accepted publish; idle:
    /// time without a whole message).
    public var rtmp = RTMPConnectionLimits()
    /// WHEP playback: the shared UDP port, the addresses its host candidates name, the viewer cap.
    public var webrtc = WebRTCConfiguration()
    /// Webhooks (retries, caps, the private-address rule) and the publish hook.
    public var webhooks = WebhookConfiguration()
    /// Days a recording is kept after it ended (docs/recording.md); 0 keeps recordings until they are deleted.
    public var recordingRetentionDays = 30
    /// The recorders' queue bounds (frame bytes and items waiting for the disk, timeline lines per recording).
    public var recordingLimits = RecordingSubscriber.Limits()
    /// Multistream: destinations per channel, the private-address rule, reconnect backoff, queue limits.
    public var multistream = MultistreamConfiguration()
    /// This node among the nodes that share a database (docs/cluster.md).
    public var cluster = ClusterConfiguration()

    public init() {}
}

/// How this node is known to the others that share its database (docs/cluster.md).
public struct ClusterConfiguration: Sendable {
    /// This node's name, unique among the nodes (`--node-id`); by default the machine's name and the HTTP port.
    public var nodeID: String?
    /// Where the other nodes reach this node's HTTP port to relay its broadcasts (`--node-address`); by default
    /// `http://127.0.0.1:PORT` (or https with TLS), which only nodes on this machine can use.
    public var nodeAddress: String?
    /// Seconds a claim on a channel's publisher lives without a heartbeat; a node renews its claims every third of it.
    public var claimTTL: TimeInterval = 10
    /// Seconds a relayed channel is kept without a viewer on this node asking for it.
    public var relayIdle: TimeInterval = 30

    public init() {}
}
