import Foundation
import LiveMedia
import Logging
import Storage
import Synchronization

/// The one rule for starting a publish, whatever the protocol (RTMP, SRT): the stream key must belong to a channel,
/// that channel must not have a live publisher already, and its tenant must be below its `maxPublishers` quota (a
/// broadcast waiting for its publisher within the grace period holds its slot); a publisher back within the grace period
/// resumes its broadcast. The key itself is never logged. Each ingest turns the verdict into its protocol's answer.
struct PublishGate: Sendable {
    let store: any Store
    let registry: BroadcastRegistry
    let logger: Logger
    /// Asked before a publish with a good key starts, when `--publish-hook` is set (docs/webhooks.md).
    var hook: PublishHook? = nil
    /// The channel's video settings are read before its broadcast starts, so the recorder and the transcoder find
    /// them at the start without a database read.
    var video: ChannelVideo? = nil
    /// With several nodes on one database: the channel's publisher is on one node at a time (docs/cluster.md).
    var cluster: ClusterNode? = nil

    enum Verdict {
        case started(Broadcast)
        case resumed(Broadcast)
        case unknownKey
        case busy
        /// The channel's tenant has as many channels publishing as its quota allows.
        case quotaExceeded(limit: Int)
        /// The publish hook said no (or did not answer in time).
        case refusedByHook
        /// The store could not be read.
        case unavailable
    }

    /// The channel a key belongs to, or nil; nil too (and logged) when the store cannot be read.
    private func channel(forStreamKey key: String) async -> Channel?? {
        do {
            return .some(try await store.channel(forStreamKey: key))
        } catch {
            logger.error("stream key lookup failed: \(error)")
            return .none
        }
    }

    /// Whether a publish with this key would start now — for a protocol that can refuse before any media arrives
    /// (the SRT handshake) without taking the channel yet.
    func wouldAdmit(streamKey: String, via ingest: String) async -> Bool {
        guard case let .some(.some(channel)) = await channel(forStreamKey: streamKey) else {
            logger.info("\(ingest) publish refused: unknown stream key")
            return false
        }
        if let local = registry.broadcast(channel.name), local.relayedFrom == nil, local.isLive {
            logger.info("\(ingest) publish refused: channel already live", metadata: ["channel": "\(channel.name)"])
            return false
        }
        if let origin = await cluster?.origin(of: channel.name) {
            logger.info("\(ingest) publish refused: channel live on another node", metadata: ["channel": "\(channel.name)", "node": "\(origin.node)"])
            return false
        }
        if let limit = publisherQuotaReached(channel, await publisherQuota(channel)) {
            logger.info("\(ingest) publish refused: tenant publisher quota reached", metadata: ["channel": "\(channel.name)", "limit": "\(limit)"])
            return false
        }
        return true
    }

    /// Publish starts are checked and taken under one lock, so two channels of a tenant with one slot left cannot
    /// both start (RTMP and SRT share it).
    private static let admission = Mutex(())

    /// The publisher quota of the channel's tenant and the tenant's channels (nil when they could not be read); nil
    /// when the tenant has no such quota.
    private func publisherQuota(_ channel: Channel) async -> (limit: Int, channels: Set<String>?)? {
        guard let tenant = try? await store.tenant(channel.tenantID), let limit = tenant.quotas.maxPublishers else { return nil }
        return (limit, (try? await store.channels(tenant: tenant.id)).map { Set($0.map(\.name)) })
    }

    /// The tenant's publisher quota when taking `channel` would pass it; nil when it may publish (or resumes). Counts
    /// the broadcasts live now, in memory (no database read), so it may run under the admission lock.
    private func publisherQuotaReached(_ channel: Channel, _ quota: (limit: Int, channels: Set<String>?)?) -> Int? {
        if let existing = registry.broadcast(channel.name), !existing.hasEnded { return nil }
        guard let quota else { return nil }
        // A tenant whose channels cannot be read counts as full.
        guard let names = quota.channels else { return quota.limit }
        let publishing = registry.all.filter { !$0.hasEnded && names.contains($0.channel) }.count
        return publishing >= quota.limit ? quota.limit : nil
    }

    /// Takes the channel for a publisher, once the publish hook (if any) agrees.
    func open(streamKey: String, remote: String, via ingest: String) async -> Verdict {
        guard case let .some(found) = await channel(forStreamKey: streamKey) else { return .unavailable }
        guard let channel = found else {
            logger.info("\(ingest) publish refused: unknown stream key", metadata: ["remote": "\(remote)"])
            return .unknownKey
        }
        if let hook, !(await hook.allows(channel: channel.name, ingest: ingest, remote: remote)) { return .refusedByHook }
        if let cluster {
            switch await cluster.claim(channel.name) {
            case .ours: break
            case let .heldBy(claim):
                logger.info("\(ingest) publish refused: channel live on another node",
                            metadata: ["channel": "\(channel.name)", "remote": "\(remote)", "node": "\(claim.node)"])
                return .busy
            case .unavailable: return .unavailable
            }
        }
        let tenantQuota = await publisherQuota(channel)
        await video?.prepare(channel: channel.name)
        let (outcome, quota) = Self.admission.withLock { _ -> (BroadcastRegistry.PublishOutcome?, Int?) in
            if let limit = publisherQuotaReached(channel, tenantQuota) { return (nil, limit) }
            return (registry.beginPublishing(channel: channel.name, now: Date()), nil)
        }
        guard let outcome else {
            let limit = quota ?? 0
            // The claim just taken is given back (release keeps it when a broadcast here still holds the channel).
            if let cluster { await cluster.release(channel.name) }
            logger.info("\(ingest) publish refused: tenant publisher quota reached",
                        metadata: ["channel": "\(channel.name)", "remote": "\(remote)", "limit": "\(limit)"])
            return .quotaExceeded(limit: limit)
        }
        switch outcome {
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
