import Foundation
import Logging
import Synchronization

/// The live broadcasts by channel name, and the rules for who may publish: one publisher per channel, and a publisher
/// that reconnects within the grace period continues the same broadcast.
public final class BroadcastRegistry: Sendable {
    public let configuration: HLSConfiguration
    public let gracePeriod: Duration
    private let broadcasts = Mutex<[String: Broadcast]>([:])
    private let logger: Logger
    private let observers = Mutex<[@Sendable (Lifecycle) -> Void]>([])

    /// A broadcast began or ended (a reconnect within the grace period is neither: the broadcast goes on).
    public enum Lifecycle: Sendable, Hashable {
        case started(channel: String, at: Date)
        /// `at` is when the broadcast really stopped: the publisher's departure, not the end of the grace period.
        case ended(channel: String, at: Date)
    }

    /// Calls `observer` on every start and end, outside the registry's lock, in the order they happen per channel.
    public func observe(_ observer: @escaping @Sendable (Lifecycle) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    private func notify(_ event: Lifecycle) {
        for observer in observers.withLock({ $0 }) { observer(event) }
    }

    /// Ends a broadcast and reports it, once: a broadcast that had ended already is not reported again. `at` is when
    /// it really stopped (a publisher's departure, not the end of its grace period).
    @discardableResult
    private func end(_ broadcast: Broadcast, ifGeneration generation: Int? = nil, at: Date = Date()) -> Bool {
        let wasEnded = broadcast.hasEnded
        let ended = broadcast.end(ifGeneration: generation)
        if ended, !wasEnded, broadcast.relayedFrom == nil { notify(.ended(channel: broadcast.channel, at: at)) }
        return ended
    }

    public init(configuration: HLSConfiguration, gracePeriod: Duration = .seconds(10), logger: Logger) {
        self.configuration = configuration
        self.gracePeriod = gracePeriod
        self.logger = logger
    }

    public enum PublishOutcome: Sendable {
        case started(Broadcast)
        case resumed(Broadcast)
        /// Someone is publishing on this channel already.
        case busy
    }

    /// Claims a channel for a new publisher.
    public func beginPublishing(channel: String, now: Date) -> PublishOutcome {
        var tookOver = false
        let outcome = broadcasts.withLock { broadcasts -> PublishOutcome in
            // A relay of another node's broadcast becomes this node's own: the publisher continues it here (the
            // cluster's claim said it may; its origin died or gave the channel up within the grace period).
            if let existing = broadcasts[channel], existing.relayedFrom != nil, existing.takeOver() {
                tookOver = true
                return .resumed(existing)
            }
            if let existing = broadcasts[channel], existing.relayedFrom == nil {
                if existing.isLive { return .busy }
                if !existing.hasEnded {
                    existing.publisherReconnected()
                    return .resumed(existing)
                }
            }
            let broadcast = Broadcast(channel: channel, configuration: configuration, startedAt: now, logger: logger)
            broadcasts[channel] = broadcast
            return .started(broadcast)
        }
        // A broadcast taken over from a relay starts here as far as this node's observers know (recording,
        // renditions, destinations and webhooks begin on this node).
        if case .started = outcome { notify(.started(channel: channel, at: now)) } else if tookOver { notify(.started(channel: channel, at: now)) }
        return outcome
    }

    /// Opens a relayed broadcast of `channel` from the node `origin` (docs/cluster.md): nil when this node has a
    /// broadcast of its own for the channel that has not ended. A relayed broadcast is not reported to the observers
    /// (nothing records, transcodes, pushes or announces it here: the origin does). One that had ended is replaced.
    public func beginRelaying(channel: String, from origin: String, now: Date) -> Broadcast? {
        broadcasts.withLock { broadcasts -> Broadcast? in
            if let existing = broadcasts[channel], !existing.hasEnded {
                return existing.relayedFrom == nil ? nil : existing
            }
            let broadcast = Broadcast(channel: channel, configuration: configuration, startedAt: now, relayedFrom: origin, logger: logger)
            broadcasts[channel] = broadcast
            return broadcast
        }
    }

    /// The relay feeding `broadcast` stopped without its origin's end: as for a publisher that left, its viewers get
    /// the grace period (a publisher here may take it over within it). Nothing happens if it was taken over already.
    public func relayLeft(_ broadcast: Broadcast) {
        let generation = broadcasts.withLock { _ -> Int? in
            guard broadcast.relayedFrom != nil, !broadcast.hasEnded else { return nil }
            return broadcast.publisherDisconnected()
        }
        if let generation { endAfterGrace(broadcast, generation: generation) }
    }

    /// The publisher of `broadcast` left: after the grace period, the broadcast ends unless it came back.
    public func publisherLeft(_ broadcast: Broadcast) {
        endAfterGrace(broadcast, generation: broadcast.publisherDisconnected())
    }

    private func endAfterGrace(_ broadcast: Broadcast, generation: Int) {
        let grace = gracePeriod
        let logger = logger
        let leftAt = Date()
        Task { [self] in
            try? await Task.sleep(for: grace)
            if end(broadcast, ifGeneration: generation, at: leftAt) {
                logger.info("broadcast ended", metadata: ["channel": "\(broadcast.channel)"])
            }
        }
    }

    public func broadcast(_ channel: String) -> Broadcast? {
        broadcasts.withLock { $0[channel] }
    }

    public var all: [Broadcast] {
        broadcasts.withLock { Array($0.values) }
    }

    /// Forgets a channel's broadcast (the channel was deleted).
    public func remove(_ channel: String) {
        let removed = broadcasts.withLock { $0.removeValue(forKey: channel) }
        if let removed { end(removed) }
    }

    /// Ends every broadcast: used at shutdown so playlists close with `EXT-X-ENDLIST`.
    public func endAll() {
        for broadcast in all { end(broadcast) }
    }
}
