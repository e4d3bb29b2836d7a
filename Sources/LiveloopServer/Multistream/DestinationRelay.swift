import Foundation
import LiveMedia
import Logging
import MediaFormats
import NIOCore
import NIOSSL
import RTMP
import Storage
import Synchronization

/// Pushes one broadcast to one destination over RTMP or RTMPS, for as long as the broadcast lasts.
///
/// Each connection is a fresh subscription to the broadcast (``RelayFeed``, its own bounded queue, skipping to the next
/// keyframe when full), so every connection starts with the sequence headers and a keyframe. A failed attempt or a
/// connection that dies is retried with exponential backoff (``MultistreamConfiguration/retry``); nothing a
/// destination does — refuse, stall, close — reaches ingest, the viewers or another destination. FLV timestamps are
/// the broadcast's media time (decode time / 90), which only grows, so they stay monotonic across a publisher's
/// reconnect and across the relay's own.
final class DestinationRelay: Sendable {
    let destination: Destination
    let target: DestinationURL
    let broadcast: Broadcast
    private let configuration: MultistreamConfiguration
    private let tls: NIOSSLContext?
    private let logger: Logger
    private let status: Mutex<RelayStatus>
    private let bytes = ByteTally()
    private let running = Mutex<(task: Task<Void, Never>?, channel: (any NIOCore.Channel)?)>((nil, nil))

    init(destination: Destination, target: DestinationURL, broadcast: Broadcast, configuration: MultistreamConfiguration,
         tls: NIOSSLContext?, logger: Logger) {
        self.destination = destination
        self.target = target
        self.broadcast = broadcast
        self.configuration = configuration
        self.tls = tls
        self.logger = logger
        status = Mutex(RelayStatus(state: .connecting, since: Date()))
    }

    var currentStatus: RelayStatus {
        var status = status.withLock { $0 }
        status.bytesOut = bytes.total
        return status
    }

    func start() {
        running.withLock { running in
            guard running.task == nil else { return }
            running.task = Task { [self] in await run() }
        }
    }

    /// Stops pushing (FCUnpublish, then close) and waits until the relay's task is done.
    func stop() async {
        let (task, channel) = running.withLock { ($0.task, $0.channel) }
        task?.cancel()
        // A write stuck on a stalled destination returns at once when its connection closes.
        channel?.close(promise: nil)
        await task?.value
    }

    private var metadata: Logger.Metadata {
        ["channel": "\(destination.channel)", "destination": "\(destination.id)", "host": "\(target.host)"]
    }

    private func update(_ change: (inout RelayStatus) -> Void) {
        status.withLock { change(&$0) }
    }

    // MARK: The connection loop

    private func run() async {
        var failures = 0
        while !Task.isCancelled, !broadcast.hasEnded {
            update { $0.state = .connecting; $0.since = Date(); $0.retryAt = nil }
            var liveSince: ContinuousClock.Instant?
            do {
                let publisher = try await connect()
                running.withLock { $0.channel = publisher.channel }
                liveSince = .now
                update { $0.state = .live; $0.since = Date(); $0.connects += 1 }
                logger.info("multistream destination live", metadata: metadata)
                try await pump(publisher)
                running.withLock { $0.channel = nil }
                await publisher.close()
                break
            } catch {
                running.withLock { $0.channel = nil }
                if Task.isCancelled || broadcast.hasEnded { break }
                if let liveSince, liveSince.duration(to: .now) >= configuration.stableAfter { failures = 0 }
                failures += 1
                let line = RelayFailure.describe(error, key: destination.key.revealed)
                let delay = configuration.retry.delay(afterFailedAttempts: failures, random: Double.random(in: 0...1))
                    ?? configuration.retry.cap
                let now = Date()
                update {
                    $0.state = .retrying; $0.since = now; $0.lastError = line; $0.lastErrorAt = now
                    $0.retryAt = now.addingTimeInterval(delay.asSeconds)
                }
                var metadata = metadata
                metadata["error"] = "\(line)"
                metadata["retryIn"] = "\(String(format: "%.1f", delay.asSeconds))s"
                logger.warning("multistream destination failed; retrying", metadata: metadata)
                try? await Task.sleep(for: delay)
            }
        }
        update { $0.state = .idle; $0.since = Date(); $0.retryAt = nil }
    }

    /// Resolves the host (refusing internal addresses unless they are allowed), connects to the address it judged,
    /// adds TLS for rtmps and the byte counter, and publishes.
    private func connect() async throws -> RTMPPublisher {
        let endpoint: RTMPPublisher.Endpoint
        if target.hostIsAddress || configuration.allowPrivateAddresses {
            endpoint = .host(target.host, port: target.port)
        } else {
            let addresses = await WebhookHTTP.resolve(target.host)
            guard let first = addresses.first else { throw RelayFailure.unresolvable(target.host) }
            if addresses.contains(where: \.isInternal) { throw RelayFailure.privateAddress(target.host) }
            endpoint = .address(try SocketAddress(ipAddress: first.description, port: target.port))
        }
        let tls = tls
        let serverHostname = target.hostIsAddress ? nil : target.host
        let bytes = bytes
        let timeout = TimeAmount.nanoseconds(Int64(configuration.connectTimeout.asSeconds * 1e9))
        return try await RTMPPublisher.connect(
            to: endpoint, app: target.app, streamKey: destination.key.revealed, tcURL: target.tcURL, timeout: timeout
        ) { channel in
            try channel.pipeline.syncOperations.addHandler(OutboundByteCounter(tally: bytes))
            if let tls {
                try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
            }
        }
    }

    /// Sends what the broadcast delivers until it ends (returns) or the connection fails (throws).
    private func pump(_ publisher: RTMPPublisher) async throws {
        let feed = RelayFeed(limit: configuration.queueLimit, byteLimit: configuration.queueByteLimit)
        let id = broadcast.attach(feed)
        defer { broadcast.detach(id) }
        while true {
            let batch = await feed.next()
            if batch.isEmpty {
                if Task.isCancelled { throw CancellationError() }
                return
            }
            for delivery in batch {
                switch delivery {
                case let .configure(video, audio, _):
                    try await send(.metadata(Self.metadata(video: video, audio: audio)), on: publisher)
                    if let video { try await send(.codec(.avc(video.record)), on: publisher) }
                    if let audio { try await send(.codec(.aac(audio.bytes)), on: publisher) }
                case let .frame(frame, _):
                    try await send(.frame(frame), on: publisher)
                case .interrupt:
                    continue
                case .end:
                    return
                }
            }
        }
    }

    /// Writes one message; a destination that does not take it within the stall timeout has its connection closed.
    private func send(_ event: RTMPMediaEvent, on publisher: RTMPPublisher) async throws {
        let channel = publisher.channel
        let stalled = StallFlag()
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(configuration.stallTimeout.asSeconds * 1e9))) {
            stalled.set()
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        do {
            try await publisher.send(event)
        } catch {
            if stalled.isSet { throw RelayFailure.stalled(configuration.stallTimeout) }
            throw error
        }
    }

    /// `onMetaData` as encoders send it: codec ids (7: AVC, 10: AAC) and the picture size.
    static func metadata(video: AVCDecoderConfiguration?, audio: AudioSpecificConfig?) -> [(String, AMF0Value)] {
        var properties: [(String, AMF0Value)] = []
        if let video {
            properties.append(("videocodecid", .number(7)))
            if let sps = try? video.parsedSPS() {
                properties.append(("width", .number(Double(sps.width))))
                properties.append(("height", .number(Double(sps.height))))
                if let rate = sps.frameRate { properties.append(("framerate", .number(rate))) }
            }
        }
        if let audio {
            properties.append(("audiocodecid", .number(10)))
            properties.append(("audiosamplerate", .number(Double(audio.samplingFrequency))))
            properties.append(("audiochannels", .number(Double(audio.channelConfiguration))))
        }
        properties.append(("encoder", .string("Liveloop")))
        return properties
    }
}

/// Bytes a relay wrote to its sockets, across its connections.
final class ByteTally: Sendable {
    private let value = Atomic<Int64>(0)
    var total: Int64 { value.load(ordering: .relaxed) }
    func add(_ count: Int) { value.add(Int64(count), ordering: .relaxed) }
}

private final class StallFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

/// Counts the bytes going to the socket: first in the pipeline, so for RTMPS it counts what TLS wrote.
final class OutboundByteCounter: ChannelOutboundHandler, Sendable {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let tally: ByteTally

    init(tally: ByteTally) { self.tally = tally }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        tally.add(unwrapOutboundIn(data).readableBytes)
        context.write(data, promise: promise)
    }
}
