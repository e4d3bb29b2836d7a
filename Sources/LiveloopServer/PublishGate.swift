import Foundation
import LiveMedia
import Logging
import Storage

/// The one rule for starting a publish, whatever the protocol (RTMP, SRT): the stream key must belong to a channel,
/// and that channel must not have a live publisher already; a publisher back within the grace period resumes its
/// broadcast. The key itself is never logged. Each ingest turns the verdict into its protocol's answer.
struct PublishGate: Sendable {
    let store: SQLiteStore
    let registry: BroadcastRegistry
    let logger: Logger
    /// Asked before a publish with a good key starts, when `--publish-hook` is set (docs/webhooks.md).
    var hook: PublishHook? = nil

    enum Verdict {
        case started(Broadcast)
        case resumed(Broadcast)
        case unknownKey
        case busy
        /// The publish hook said no (or did not answer in time).
        case refusedByHook
        /// The store could not be read.
        case unavailable
    }

    /// The channel a key belongs to, or nil; nil too (and logged) when the store cannot be read.
    private func channel(forStreamKey key: String) -> Channel?? {
        do {
            return .some(try store.channel(forStreamKey: key))
        } catch {
            logger.error("stream key lookup failed: \(error)")
            return .none
        }
    }

    /// Whether a publish with this key would start now — for a protocol that can refuse before any media arrives
    /// (the SRT handshake) without taking the channel yet.
    func wouldAdmit(streamKey: String, via ingest: String) -> Bool {
        guard case let .some(.some(channel)) = channel(forStreamKey: streamKey) else {
            logger.info("\(ingest) publish refused: unknown stream key")
            return false
        }
        if registry.broadcast(channel.name)?.isLive == true {
            logger.info("\(ingest) publish refused: channel already live", metadata: ["channel": "\(channel.name)"])
            return false
        }
        return true
    }

    /// Takes the channel for a publisher, once the publish hook (if any) agrees.
    func open(streamKey: String, remote: String, via ingest: String) async -> Verdict {
        guard case let .some(found) = channel(forStreamKey: streamKey) else { return .unavailable }
        guard let channel = found else {
            logger.info("\(ingest) publish refused: unknown stream key", metadata: ["remote": "\(remote)"])
            return .unknownKey
        }
        if let hook, !(await hook.allows(channel: channel.name, ingest: ingest, remote: remote)) { return .refusedByHook }
        switch registry.beginPublishing(channel: channel.name, now: Date()) {
        case .busy:
            logger.info("\(ingest) publish refused: channel already live", metadata: ["channel": "\(channel.name)", "remote": "\(remote)"])
            return .busy
        case let .started(broadcast):
            logger.info("\(ingest) publish started", metadata: ["channel": "\(channel.name)", "remote": "\(remote)"])
            return .started(broadcast)
        case let .resumed(broadcast):
            logger.info("\(ingest) publisher reconnected", metadata: ["channel": "\(channel.name)", "remote": "\(remote)"])
            return .resumed(broadcast)
        }
    }
}
