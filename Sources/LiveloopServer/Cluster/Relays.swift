import AsyncHTTPClient
import Foundation
import LiveMedia
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Storage
import Synchronization

/// The edge's end of the relays (docs/cluster.md): when a viewer here asks for a channel published on another node,
/// this node pulls that broadcast (``RelayRoutes`` on the origin) into a relayed broadcast of its own, which its
/// LL-HLS, WebSocket-fMP4 and WHEP viewers then read like any other. One pull per channel however many viewers ask;
/// it reconnects while the origin's claim holds, and stops when the broadcast ends, the channel moves to this node,
/// or no viewer here has asked for it for ``ClusterConfiguration/relayIdle`` seconds.
final class Relays: Sendable {
    private let cluster: ClusterNode
    private let registry: BroadcastRegistry
    private let idle: TimeInterval
    private let logger: Logger
    private let running = Mutex<[String: Run]>([:])
    /// A viewer waits this long for a relay it started to have media before its request goes on.
    static let firstMediaWait = Duration.seconds(3)

    final class Run: Sendable {
        let lastAsked = Mutex(Date())
        let task = Mutex<Task<Void, Never>?>(nil)
        func touch() { lastAsked.withLock { $0 = Date() } }
    }

    init(cluster: ClusterNode, registry: BroadcastRegistry, idle: TimeInterval, logger: Logger) {
        self.cluster = cluster
        self.registry = registry
        self.idle = idle
        self.logger = logger
    }

    /// Channels relayed now.
    var channels: [String] { running.withLock { Array($0.keys) } }

    /// A viewer here asked for `channel`: starts relaying it when another node holds its publisher, and waits a
    /// little for the first media of a relay just started, so the first playlist request finds it.
    func ensure(_ channel: String) async {
        if let broadcast = registry.broadcast(channel), broadcast.relayedFrom == nil, !broadcast.hasEnded { return }
        if let run = running.withLock({ $0[channel] }) {
            run.touch()
            return
        }
        guard let origin = await cluster.origin(of: channel) else { return }
        let (run, started) = running.withLock { running -> (Run, Bool) in
            if let run = running[channel] { return (run, false) }
            let run = Run()
            running[channel] = run
            return (run, true)
        }
        guard started else { run.touch(); return }
        logger.info("relaying a channel from its origin", metadata: ["channel": "\(channel)", "origin": "\(origin.node)"])
        run.task.withLock { $0 = Task { await self.pull(channel, run: run) } }
        let deadline = ContinuousClock.now + Self.firstMediaWait
        while ContinuousClock.now < deadline {
            if let broadcast = registry.broadcast(channel), broadcast.rendition != nil || broadcast.hasEnded { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Stops every relay (shutdown).
    func stopAll() async {
        let runs = running.withLock { running in defer { running.removeAll() }; return Array(running.values) }
        for run in runs { run.task.withLock { $0 }?.cancel() }
    }

    private func pull(_ channel: String, run: Run) async {
        var broadcast: Broadcast?
        var failures = 0
        defer {
            _ = running.withLock { $0.removeValue(forKey: channel) }
            // A relay that stops without the origin's end leaves its viewers the grace period, as a publisher would.
            if let broadcast { registry.relayLeft(broadcast) }
        }
        while !Task.isCancelled {
            guard let origin = await cluster.origin(of: channel) else { break }
            if isIdle(run, broadcast) { break }
            var request = HTTPClientRequest(url: "\(origin.address)/cluster/relay/\(channel)")
            request.headers.add(name: "Authorization", value: "Bearer \(cluster.relayToken)")
            do {
                let response = try await cluster.client.execute(request, deadline: .distantFuture, logger: logger)
                guard response.status == .ok else {
                    throw RelayError.refused(Int(response.status.code))
                }
                guard let target = registry.beginRelaying(channel: channel, from: origin.node, now: Date()) else {
                    logger.info("relay stopped: the channel is published on this node now", metadata: ["channel": "\(channel)"])
                    break
                }
                broadcast = target
                var pending = ByteBuffer()
                for try await chunk in response.body {
                    var chunk = chunk
                    pending.writeBuffer(&chunk)
                    while let record = try RelayCodec.decode(from: &pending) {
                        switch record {
                        case let .delivery(delivery): target.relay(delivery, now: Date())
                        case let .cue(cue): target.relayCue(cue)
                        case .heartbeat: break
                        }
                    }
                    // What was decoded is dropped, so a relay that runs for hours holds at most one record's bytes.
                    if pending.readableBytes == 0 { pending.clear() } else if pending.readerIndex > 1 << 20 { pending.discardReadBytes() }
                    failures = 0
                    // Cancelled, idle, or taken over by a publisher here.
                    if Task.isCancelled || isIdle(run, target) || target.relayedFrom == nil { return }
                }
                if target.hasEnded { break }
                // The link dropped with the broadcast still on: viewers hear an interruption, and the pull starts again.
                if target.isLive { target.relay(.interrupt, now: Date()) }
                throw RelayError.closed
            } catch {
                failures += 1
                if failures == 1 || failures % 10 == 0 {
                    logger.warning("relay from the origin failed; retrying", metadata: [
                        "channel": "\(channel)", "origin": "\(origin.node)", "error": "\(error)",
                    ])
                }
                if let broadcast, broadcast.isLive { broadcast.relay(.interrupt, now: Date()) }
                try? await Task.sleep(for: .milliseconds(min(2000, 250 << min(failures, 3))))
            }
        }
    }

    /// No viewer here asked for the channel for `idle` seconds, and none holds a WebSocket or WebRTC stream of it.
    private func isIdle(_ run: Run, _ broadcast: Broadcast?) -> Bool {
        guard Date().timeIntervalSince(run.lastAsked.withLock({ $0 })) > idle, broadcast?.hasAttachedViewers != true else { return false }
        logger.info("relay stopped: no viewer here asked for the channel", metadata: ["channel": "\(broadcast?.channel ?? "")"])
        return true
    }

    enum RelayError: Error, CustomStringConvertible {
        case refused(Int)
        case closed

        var description: String {
            switch self {
            case let .refused(status): "the origin answered \(status)"
            case .closed: "the origin closed the relay"
            }
        }
    }
}
