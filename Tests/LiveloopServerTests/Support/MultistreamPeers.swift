import Logging
import MediaFormats
import NIOCore
import NIOPosix
import RTMP
import Synchronization

extension RawTCP {
    /// Whether something accepts TCP connections on 127.0.0.1:`port` now.
    static func canConnect(port: Int) async throws -> Bool {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(1)).connect(host: "127.0.0.1", port: port).get()
        try? await channel.close()
        return true
    }

    /// A port nobody listens on now (bound and released): connections to it are refused.
    static func unusedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }
}

/// A destination that accepts TCP connections and then never reads or answers a byte: a hung peer.
struct BlackHole {
    let listener: any Channel
    var port: Int { listener.localAddress?.port ?? 0 }

    static func start() async throws -> BlackHole {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.autoRead, value: false)
            .bind(host: "127.0.0.1", port: 0).get()
        return BlackHole(listener: listener)
    }

    func close() async { try? await listener.close() }
}

/// An RTMP server (the project's own listener) that accepts any publish and records what each connection delivered,
/// in order, so a test can read the timestamps and the order of sequence headers and frames a relay sent.
final class RecordingRTMPServer: Sendable {
    enum Event: Sendable {
        case videoConfiguration
        case audioConfiguration
        case metadata
        /// Decode time in RTMP's milliseconds (as sent, times 90).
        case frame(track: MediaFrame.Track, dts: Int64, keyframe: Bool)
    }

    final class Sink: RTMPPublishSink {
        let events = Mutex<[Event]>([])
        let disconnected = Mutex(false)

        func handle(_ event: RTMPMediaEvent) {
            let recorded: Event = switch event {
            case .metadata: .metadata
            case .codec(.avc): .videoConfiguration
            case .codec(.aac): .audioConfiguration
            case let .frame(frame): .frame(track: frame.track, dts: frame.dts, keyframe: frame.isKeyframe)
            }
            events.withLock { $0.append(recorded) }
        }

        func publisherDisconnected() { disconnected.withLock { $0 = true } }
    }

    private struct Authorizer: RTMPPublishAuthorizer {
        let server: RecordingRTMPServer
        func authorize(app: String, streamKey: String, remoteAddress: String) async -> RTMPPublishDecision {
            let sink = Sink()
            server.publishes.withLock { $0.append((app, streamKey, sink)) }
            return .accept(sink)
        }
    }

    let publishes = Mutex<[(app: String, key: String, sink: Sink)]>([])
    let connections = RTMPConnectionSet()
    private let listener = Mutex<(any Channel)?>(nil)

    var port: Int { listener.withLock { $0?.localAddress?.port ?? 0 } }

    func start() async throws {
        var logger = Logger(label: "recording-rtmp")
        logger.logLevel = .critical
        let channel = try await RTMPListener.bind(host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton,
                                                  authorizer: Authorizer(server: self), connections: connections, logger: logger)
        listener.withLock { $0 = channel }
    }

    /// Each publish so far, with what it delivered.
    var sessions: [(app: String, key: String, events: [Event])] {
        publishes.withLock { $0.map { ($0.app, $0.key, $0.sink.events.withLock { $0 }) } }
    }

    /// Drops every open connection (a destination dying mid-stream); the listener stays, so the relay can come back.
    func dropConnections() { connections.closeAll() }

    func close() async {
        connections.closeAll()
        let channel = listener.withLock { $0 }
        try? await channel?.close()
    }
}
