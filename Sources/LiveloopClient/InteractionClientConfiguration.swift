import Foundation
import Interaction
import NIOCore
import NIOPosix

extension InteractionClient {
    /// How an `InteractionClient` connects, syncs its clock and reconnects. The defaults suit an app; a load
    /// generator turns clock sync and the envelope stream off and binds each socket to a source address.
    public struct Configuration: Sendable {
        /// The socket underneath.
        public enum Transport: Sendable, Hashable {
            /// `posix` for `ws://`, `webSocketClient` for `wss://`.
            case automatic
            /// `WSClient` (hummingbird-project/swift-websocket): `ws://` and `wss://`, Network.framework on Apple
            /// platforms. The token travels as `?token=`. Observed with swift-websocket 1.6.2: a frame the server
            /// sends right behind the 101 response (e.g. a refusal) is sometimes never surfaced, so that attempt
            /// ends only at `connectTimeout`.
            case webSocketClient
            /// A plain-`ws://` NIO socket, optionally bound to a local address (e.g. one of 127.0.0.1…127.0.0.K, so
            /// that one machine can open more connections than one address has ephemeral ports). The token
            /// travels as `Authorization: Bearer`.
            case posix(localAddress: String?)
        }

        /// Automatic reconnection after the connection drops (never after `close()`): exponential backoff with
        /// full jitter, resuming with `lastSeq` so the missed broadcasts arrive in order.
        public struct Reconnect: Sendable, Hashable {
            public var initialDelay: Duration
            public var maximumDelay: Duration
            /// Attempts in a row before the client gives up and finishes `envelopes`; nil tries forever.
            public var maximumAttempts: Int?

            public init(initialDelay: Duration = .milliseconds(250), maximumDelay: Duration = .seconds(15), maximumAttempts: Int? = nil) {
                self.initialDelay = initialDelay
                self.maximumDelay = maximumDelay
                self.maximumAttempts = maximumAttempts
            }

            /// The longest wait before attempt `attempt` (0-based); the actual wait is uniform in 0…this.
            func delayCeiling(attempt: Int) -> Duration {
                let factor = 1 << min(max(attempt, 0), 20)
                return min(initialDelay * factor, maximumDelay)
            }
        }

        /// Clock sync: `samples` pings right after each `hello`, then again every `interval`.
        public struct ClockSyncPolicy: Sendable, Hashable {
            public var samples: Int
            public var interval: Duration
            public init(samples: Int = 5, interval: Duration = .seconds(60)) {
                self.samples = samples
                self.interval = interval
            }
        }

        public var transport: Transport = .automatic
        /// nil: the client stays closed when the connection drops.
        public var reconnect: Reconnect? = Reconnect()
        /// nil: no automatic clock sync (`synchronizeClock()` still works).
        public var clockSync: ClockSyncPolicy? = ClockSyncPolicy()
        /// How long `connect` waits for the upgrade and the `hello`.
        public var connectTimeout: Duration = .seconds(10)
        /// How long `send` waits for the matching `ack`/`error`; nil waits until the connection drops.
        public var requestTimeout: Duration? = .seconds(10)
        /// Envelopes `envelopes` keeps for a slow reader (the newest win); 0 turns the stream off.
        public var envelopeBufferLimit = 4096
        /// Elements each typed stream (`polls`, `chat`, `cues`, …) keeps for a slow or late reader (the newest win;
        /// `viewers` keeps one); 0 turns them off.
        public var streamBufferLimit = 256
        /// The program date of the frame the app's video player shows now (`AVPlayerItem.currentDate()`; see
        /// `Playhead`), or nil while it shows none. When set, the typed streams deliver host actions (`poll`,
        /// `results`, `quiz`, `leaderboard`, `standing`, `offer`, `offer.hidden`) when the playhead reaches their
        /// cue, in room order (`CueScheduler`), and the client reports its display latency to the server about once a
        /// second. Called from the client's threads: it must be quick and must not call the client.
        public var playhead: (@Sendable () -> Date?)?
        /// The delivery path of the app's player, `hls` or `ws`, sent with the latency reports.
        public var playerPath: String? = "hls"
        /// The most messages the typed streams hold for the playhead (a paused player); past that the oldest goes out.
        public var heldMessageLimit = 1024
        /// Broadcast kinds the client does not decode nor deliver (their `seq` still counts), e.g. `viewers` in a
        /// load generator where every viewer would otherwise decode each viewer-count update.
        public var ignoredKinds: Set<ServerMessage.Kind> = []
        /// Called on the connection's thread with every envelope the client delivers, before `envelopes` sees it.
        /// Must return quickly; meant for measurements and bridges to other event systems.
        public var onEnvelope: (@Sendable (ServerEnvelope) -> Void)?
        /// The playhead this client shows cues at, as a latency behind ingest (e.g. the target its video player holds;
        /// for a client without video, the channel's `hello.snapshot.sync` target). When set, the client reports it
        /// to the server (`sync`, after every clock-sync round) so that the server times cue-bearing messages and
        /// answer windows for it, and calls `onDisplay` with every envelope in order, a cue-bearing one only once
        /// the server clock minus this latency reaches its `cue.at` (the messages after it wait behind it).
        /// Without a `playhead`, the typed streams hold timeline messages for this playhead too (the server clock
        /// minus this latency): the way for an app without video (a second screen) to show cues with everyone else.
        public var displayLatency: Duration?
        /// Called with each envelope when it is shown (see `displayLatency`) and the server time it was shown at.
        public var onDisplay: (@Sendable (ServerEnvelope, Timestamp) -> Void)?
        /// A one-way delay added to every frame in each direction, to simulate a distant viewer (benchmarks, tests).
        public var simulatedDelay: Duration?
        /// Extra delay, uniform in 0…this, drawn per frame and direction on top of `simulatedDelay` (frames keep their
        /// order: a frame never overtakes the one before it, as on TCP).
        public var simulatedJitter: Duration?
        /// Largest frame accepted from the server (a `hello` with a full snapshot can be large).
        public var maximumFrameBytes = 1 << 20
        public var eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

        public init() {}
    }
}

/// Why an `InteractionClient` call failed.
public enum InteractionClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The URL is not a `ws://` or `wss://` URL this transport can use.
    case invalidURL(String)
    /// The server did not upgrade the connection (wrong channel, bad token, no such channel: HTTP 401/403/404).
    case upgradeRefused(status: Int?)
    /// The server refused the session with an `error` frame before `hello` (e.g. `banned`).
    case refused(ServerMessage.ErrorBody)
    /// The connection closed before `hello`, or while a request waited for its answer.
    case disconnected
    /// The client is closed, or between reconnect attempts.
    case notConnected
    /// No `hello` within the connect timeout, or no answer within the request timeout.
    case timedOut
    /// The task waiting for the answer was cancelled (the request may or may not have been applied).
    case cancelled
    /// Getting a token failed (an open join refused or unreachable, the app's token closure threw).
    case join(JoinError)
    /// The socket could not be opened (no route, connection refused, TLS failure).
    case unreachable(String)

    public var description: String {
        switch self {
        case .invalidURL(let url): "not a usable WebSocket URL: \(url)"
        case .upgradeRefused(let status): "the server refused the WebSocket upgrade" + (status.map { " (HTTP \($0))" } ?? "")
        case .refused(let error): "refused: \(error.code.rawValue): \(error.message)"
        case .disconnected: "the connection closed"
        case .notConnected: "not connected"
        case .timedOut: "timed out"
        case .cancelled: "cancelled"
        case .join(let error): "could not join: \(error)"
        case .unreachable(let why): "could not connect: \(why)"
        }
    }
}
