import AsyncHTTPClient
import Foundation
import LiveMedia
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Storage
import Synchronization

/// This node among the nodes that share one database (docs/cluster.md): it claims the channels published here, renews
/// those claims, gives them up when their broadcasts end, and tells the relay which other node holds a channel.
///
/// A channel's publisher is on one node at a time: a publish here is refused while another node's claim is fresh.
/// The claim names this node's address, where the others pull the broadcast from (``RelayRoutes``, ``RelayPuller``).
/// With SQLite there is one node and the claims are bookkeeping.
final class ClusterNode: Sendable {
    let id: String
    let ttl: TimeInterval
    /// What the other nodes send as `Authorization: Bearer` to pull a relay: made from a secret in the shared
    /// database, so only nodes of this cluster know it. Never logged.
    let relayToken: String
    private let configuredAddress: String?
    private let readiness: Readiness
    private let tls: Bool
    private let store: any Store
    private let registry: BroadcastRegistry
    private let logger: Logger
    /// Channels whose publisher this node claimed, for the heartbeat and the release at shutdown.
    private let held = Mutex<Set<String>>([])
    /// Channels whose room this node claimed.
    private let heldRooms = Mutex<Set<String>>([])
    /// The client of relays and room links: made on first use (a node alone never needs one), shut down with the node.
    private let madeClient = Mutex<HTTPClient?>(nil)
    /// Recent answers to "who holds this channel", so viewers asking for a channel nobody publishes do not each read
    /// the database.
    private let origins = Mutex<[String: (claim: NodeClaim?, at: Date)]>([:])
    static let originCacheSeconds = 1.0
    static let relaySecretName = "clusterRelay"

    init(configuration: ServerConfiguration, store: any Store, registry: BroadcastRegistry, readiness: Readiness, tls: Bool,
         logger: Logger) async throws {
        let host = ProcessInfo.processInfo.hostName
        id = configuration.cluster.nodeID
            ?? (configuration.httpPort == 0 ? "\(host)-\(ProcessInfo.processInfo.processIdentifier)" : "\(host)-\(configuration.httpPort)")
        ttl = configuration.cluster.claimTTL
        configuredAddress = configuration.cluster.nodeAddress.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.readiness = readiness
        self.tls = tls
        self.store = store
        self.registry = registry
        self.logger = logger
        relayToken = try await store.secret(named: Self.relaySecretName).base64EncodedString()
    }

    /// The HTTP client for the other nodes (relays, room links). Its read timeout outlasts the 2 s heartbeats.
    var client: HTTPClient {
        madeClient.withLock { made in
            if let made { return made }
            var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                                         timeout: .init(connect: .seconds(2), read: .seconds(7)))
            configuration.decompression = .disabled
            let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
            made = client
            return client
        }
    }

    func shutdownClient() async {
        try? await madeClient.withLock({ $0 })?.shutdown()
    }

    /// Where the other nodes reach this one.
    var address: String {
        configuredAddress ?? "\(tls ? "https" : "http")://127.0.0.1:\(readiness.boundHTTPPort ?? 0)"
    }

    enum ClaimVerdict: Sendable {
        case ours
        case heldBy(NodeClaim)
        case unavailable
    }

    /// Claims `channel` for a publisher here.
    func claim(_ channel: String) async -> ClaimVerdict {
        do {
            if let holder = try await store.takeClaim(.publisher, channel: channel, node: id, address: address, now: Date(), ttl: ttl) {
                return .heldBy(holder)
            }
            held.withLock { _ = $0.insert(channel) }
            origins.withLock { _ = $0.removeValue(forKey: channel) }
            return .ours
        } catch {
            logger.error("cannot claim the channel in the database: \(error)", metadata: ["channel": "\(channel)"])
            return .unavailable
        }
    }

    /// Claims `channel`'s room for this node: nil when it is this node's, the claim of the node that holds it otherwise.
    /// With `replacing`, takes it from that holder, found gone (it did not open a room link), unless another node
    /// did first or the holder renewed it since.
    func claimRoom(_ channel: String, replacing gone: NodeClaim? = nil) async throws -> NodeClaim? {
        let holder = if let gone {
            try await store.replaceClaim(.room, channel: channel, node: id, address: address, now: Date(), replacing: gone)
        } else {
            try await store.takeClaim(.room, channel: channel, node: id, address: address, now: Date(), ttl: ttl)
        }
        if holder == nil { heldRooms.withLock { _ = $0.insert(channel) } }
        return holder
    }

    /// Whether this node claimed `channel`'s room (and so answers room links for it, loading the room if need be).
    func holdsRoom(_ channel: String) -> Bool { heldRooms.withLock { $0.contains(channel) } }

    /// Gives `channel`'s room up (the node stops).
    func releaseRoom(_ channel: String) async {
        heldRooms.withLock { _ = $0.remove(channel) }
        try? await store.releaseClaim(.room, channel: channel, node: id)
    }

    /// Gives `channel` up, unless a publisher here holds it again (a new broadcast began since its last ended).
    func release(_ channel: String) async {
        if let broadcast = registry.broadcast(channel), broadcast.relayedFrom == nil, !broadcast.hasEnded { return }
        held.withLock { _ = $0.remove(channel) }
        do {
            try await store.releaseClaim(.publisher, channel: channel, node: id)
        } catch {
            logger.warning("cannot release the channel's claim (it goes stale by itself): \(error)", metadata: ["channel": "\(channel)"])
        }
    }

    /// The other node whose fresh claim holds `channel`'s publisher; nil when none does, or this node does.
    func origin(of channel: String) async -> NodeClaim? {
        let now = Date()
        if let cached = origins.withLock({ $0[channel] }), now.timeIntervalSince(cached.at) < Self.originCacheSeconds {
            return cached.claim
        }
        let found = (try? await store.currentClaim(.publisher, channel: channel)).flatMap { $0 }
        let claim = found.flatMap { $0.node != id && $0.isFresh(at: now, ttl: ttl) ? $0 : nil }
        origins.withLock { origins in
            if origins.count > 10_000 { origins.removeAll() }
            origins[channel] = (claim, now)
        }
        return claim
    }

    /// Renews this node's claims.
    func heartbeat() async {
        let holding = [(ClaimKind.publisher, !held.withLock { $0.isEmpty }), (.room, !heldRooms.withLock { $0.isEmpty })]
        for (kind, holds) in holding where holds {
            do {
                try await store.refreshClaims(kind, node: id, now: Date())
            } catch {
                logger.warning("cannot renew this node's channel claims: \(error)", metadata: ["kind": "\(kind.rawValue)"])
            }
        }
    }

    /// Gives every claim up (shutdown, after the ingests ended their broadcasts).
    func releaseAll() async {
        for channel in held.withLock({ $0 }) { await release(channel) }
        for channel in heldRooms.withLock({ $0 }) { await releaseRoom(channel) }
    }
}

/// Renews the node's claims every third of their time-to-live, and gives them up at shutdown.
struct ClusterService: Service {
    let node: ClusterNode
    let relays: Relays

    func run() async throws {
        let interval = Duration.milliseconds(Int64(node.ttl * 1000 / 3))
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { break }
                await node.heartbeat()
            }
        }
        await relays.stopAll()
        await node.releaseAll()
        await node.shutdownClient()
    }
}
