import Foundation
import LiveMedia
import Logging
import NIOCore
import NIOPosix
import RTMP
import ServiceLifecycle
import Storage

/// The ingest side as one service: the RTMP listener, the RTMPS one with TLS, and, with `--demo`, the built-in clip. On graceful shutdown it
/// closes every publisher and ends every broadcast, so live playlists finish with `EXT-X-ENDLIST` while the HTTP
/// server (shut down after it) still answers.
struct IngestService: Service {
    let configuration: ServerConfiguration
    let store: any Store
    let registry: BroadcastRegistry
    let rooms: RoomRegistry
    let connections: RTMPConnectionSet
    let readiness: Readiness
    let tls: TLSCredentials?
    let broadcastRecorder: BroadcastRecorder
    let logger: Logger
    var publishHook: PublishHook? = nil
    var video: ChannelVideo? = nil
    var cluster: ClusterNode? = nil

    func run() async throws {
        let authorizer = ChannelPublishAuthorizer(gate: PublishGate(store: store, registry: registry, logger: logger, hook: publishHook,
                                                                    video: video, cluster: cluster))
        // RTMP and RTMPS count against the same connection caps.
        let admission = RTMPAdmissionGate(limits: configuration.rtmp)
        let secure: (any NIOCore.Channel)? = if let tls { try await bindRTMPS(tls, authorizer: authorizer, admission: admission) } else { nil }
        let listener: any NIOCore.Channel
        do {
            listener = try await RTMPListener.bind(
                host: configuration.host, port: configuration.rtmpPort, group: MultiThreadedEventLoopGroup.singleton,
                authorizer: authorizer, connectionLimits: configuration.rtmp, admission: admission,
                connections: connections, logger: logger
            )
        } catch {
            try? await secure?.close()
            throw error
        }
        let port = listener.localAddress?.port ?? configuration.rtmpPort
        logger.info("RTMP listening", metadata: ["port": "\(port)"])
        readiness.rtmpBound(port: port)

        let demoTask: Task<Void, Never>? = configuration.demo ? await startDemo() : nil

        // A graceful shutdown closes the listeners; so does a cancelled group (another service failed to start, e.g. the
        // HTTP port was taken), which a future's `get()` would not notice by itself.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                try? await listener.closeFuture.get()
                try? await secure?.closeFuture.get()
            } onGracefulShutdown: {
                listener.close(promise: nil)
                secure?.close(promise: nil)
            }
        } onCancel: {
            listener.close(promise: nil)
            secure?.close(promise: nil)
        }
        demoTask?.cancel()
        connections.closeAll()
        registry.endAll()
        // The ends go into the rooms' logs before the rooms stop.
        await broadcastRecorder.finish()
        rooms.stopAll()
        logger.info("ingest stopped; broadcasts ended")
    }

    private func bindRTMPS(_ tls: TLSCredentials, authorizer: ChannelPublishAuthorizer, admission: RTMPAdmissionGate) async throws -> any NIOCore.Channel {
        let listener = try await RTMPListener.bind(
            host: configuration.host, port: configuration.rtmpsPort, group: MultiThreadedEventLoopGroup.singleton,
            authorizer: authorizer, connectionLimits: configuration.rtmp, admission: admission,
            transport: { channel in try tls.addServerHandler(to: channel) }, connections: connections, logger: logger
        )
        let port = listener.localAddress?.port ?? configuration.rtmpsPort
        logger.info("RTMPS listening", metadata: ["port": "\(port)"])
        readiness.rtmpsBound(port: port)
        return listener
    }

    private func startDemo() async -> Task<Void, Never>? {
        do {
            let source = try DemoSource()
            if try await store.ensureChannel(name: "demo") != nil {
                // The demo is for trying things out: anyone who opens it may watch and react without a token. Only a
                // new demo channel gets this; an operator's later settings stand.
                try await store.saveChannelSettings(channel: "demo", body: Data(#"{"allowAnonymous":true}"#.utf8), allowAnonymous: true)
            }
            await video?.prepare(channel: "demo")
            guard case let .started(broadcast) = registry.beginPublishing(channel: "demo", now: Date()) else { return nil }
            logger.info("demo clip publishing on channel \"demo\"")
            return Task {
                await source.run(into: broadcast)
            }
        } catch {
            logger.error("demo unavailable: \(error)")
            return nil
        }
    }
}
