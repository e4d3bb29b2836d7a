import Foundation
import LiveMedia
import Logging
import MediaFormats
import ServiceLifecycle
import SRT
import Storage
import Synchronization

/// SRT ingest as one service: a listener on `--srt-port` whose callers publish MPEG-TS with the stream key in their
/// `streamid`. Where the system has no libsrt it logs that once and waits for shutdown, so everything else runs.
struct SRTIngestService: Service {
    let configuration: ServerConfiguration
    let store: any Store
    let registry: BroadcastRegistry
    let readiness: Readiness
    let logger: Logger
    var publishHook: PublishHook? = nil
    var video: ChannelVideo? = nil
    var cluster: ClusterNode? = nil

    func run() async throws {
        var settings = configuration.srt
        settings.host = configuration.host
        settings.port = configuration.srtPort
        let gate = ChannelSRTGate(gate: PublishGate(store: store, registry: registry, logger: logger, hook: publishHook, video: video,
                                                         cluster: cluster))
        let listener: SRTListener
        do {
            listener = try SRTListener.start(configuration: settings, gate: gate, logger: logger)
        } catch SRTError.libraryUnavailable {
            logger.notice("SRT ingest unavailable: \(SRTError.libraryUnavailable); RTMP and everything else run")
            readiness.srtUnavailable()
            try? await gracefulShutdown()
            return
        } catch {
            readiness.srtUnavailable()
            throw error
        }
        logger.info("SRT listening", metadata: ["port": "\(listener.port)", "encrypted": "\(settings.passphrase != nil)"])
        readiness.srtBound(port: listener.port)
        try? await gracefulShutdown()
        await listener.stop()
    }
}

/// The stream-key rules for SRT callers: the same as RTMP's (``ChannelPublishAuthorizer``): the key must belong to a
/// channel, that channel must have no publisher, and a publisher back within the grace continues its broadcast.
struct ChannelSRTGate: SRTPublishGate {
    let gate: PublishGate

    /// At the handshake: refuses unknown keys and channels already live, before a byte of media is accepted. Called
    /// on libsrt's listener thread, which waits here for the store's answer.
    func admits(streamKey: String) -> Bool {
        Self.waiting { [gate] in await gate.wouldAdmit(streamKey: streamKey, via: "SRT") } ?? false
    }

    /// Called on the connection's own thread, which may block: it waits here for the publish hook, if there is one.
    func begin(streamKey: String, remote: String) -> (any SRTPublishSink)? {
        let verdict = Self.waiting { [gate] in await gate.open(streamKey: streamKey, remote: remote, via: "SRT") }
        switch verdict {
        case nil, .unavailable, .unknownKey, .busy, .quotaExceeded, .refusedByHook: return nil
        case let .started(broadcast), let .resumed(broadcast): return SRTIngest(broadcast: broadcast, registry: gate.registry)
        }
    }
}

extension ChannelSRTGate {
    /// Runs `work` in a task and blocks this (non-cooperative) thread until it answers.
    static func waiting<T: Sendable>(_ work: @escaping @Sendable () async -> T) -> T? {
        let answer = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let value = await work()
            answer.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return answer.withLock { $0 }
    }
}

/// One SRT publisher's events into its broadcast.
struct SRTIngest: SRTPublishSink {
    let broadcast: Broadcast
    let registry: BroadcastRegistry

    func ingest(_ events: [IngestEvent]) {
        let now = Date()
        for event in events { broadcast.ingest(event, now: now) }
    }

    func publisherDisconnected() {
        registry.publisherLeft(broadcast)
    }
}
