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
        broadcasts.withLock { broadcasts in
            if let existing = broadcasts[channel] {
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
    }

    /// The publisher of `broadcast` left: after the grace period, the broadcast ends unless it came back.
    public func publisherLeft(_ broadcast: Broadcast) {
        let generation = broadcast.publisherDisconnected()
        let grace = gracePeriod
        let logger = logger
        Task {
            try? await Task.sleep(for: grace)
            if broadcast.end(ifGeneration: generation) {
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
        removed?.end()
    }

    /// Ends every broadcast: used at shutdown so playlists close with `EXT-X-ENDLIST`.
    public func endAll() {
        for broadcast in all { broadcast.end() }
    }
}
