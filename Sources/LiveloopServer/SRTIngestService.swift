import Foundation
import LiveMedia
import Logging
import MediaFormats
import ServiceLifecycle
import SRT
import Storage

/// SRT ingest as one service: a listener on `--srt-port` whose callers publish MPEG-TS with the stream key in their
/// `streamid`. Where the system has no libsrt it logs that once and waits for shutdown, so everything else runs.
struct SRTIngestService: Service {
    let configuration: ServerConfiguration
    let store: SQLiteStore
    let registry: BroadcastRegistry
    let readiness: Readiness
    let logger: Logger

    func run() async throws {
        var settings = configuration.srt
        settings.host = configuration.host
        settings.port = configuration.srtPort
        let gate = ChannelSRTGate(gate: PublishGate(store: store, registry: registry, logger: logger))
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

    /// At the handshake: refuses unknown keys and channels already live, before a byte of media is accepted.
    func admits(streamKey: String) -> Bool {
        gate.wouldAdmit(streamKey: streamKey, via: "SRT")
    }

    func begin(streamKey: String, remote: String) -> (any SRTPublishSink)? {
        switch gate.open(streamKey: streamKey, remote: remote, via: "SRT") {
        case .unavailable, .unknownKey, .busy, .quotaExceeded: nil
        case let .started(broadcast), let .resumed(broadcast): SRTIngest(broadcast: broadcast, registry: gate.registry)
        }
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
