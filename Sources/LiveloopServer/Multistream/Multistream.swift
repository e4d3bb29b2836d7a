import Foundation
import LiveMedia
import Logging
import NIOSSL
import ServiceLifecycle
import Storage

/// The relays of every live channel: one ``DestinationRelay`` per enabled destination of a channel that is live.
///
/// It reconciles what runs with what should (``refresh(channel:)``) when a broadcast starts or ends and when the API
/// changes a channel's destinations; reconciling reads the current state each time, so events that arrive out of
/// order still converge. An actor: it is touched a few times per broadcast and per API call, never per frame. As a
/// service it stops every relay (each sends FCUnpublish) when the server shuts down.
public actor Multistream: Service {
    public nonisolated let configuration: MultistreamConfiguration
    private let store: any Store
    private let registry: BroadcastRegistry
    private let logger: Logger
    private let tls: NIOSSLContext?
    private var relays: [String: DestinationRelay] = [:]
    /// The status each destination's last relay ended with, shown until the next broadcast starts one.
    private var finished: [String: (channel: String, status: RelayStatus)] = [:]
    /// Relays being stopped, until they are.
    private var stopping: [String: Task<Void, Never>] = [:]
    private var refreshing: Set<String> = []
    private var pending: Set<String> = []
    private var stopped = false

    /// Fails when `trustedCAFile` cannot be read as PEM certificates.
    public init(store: any Store, registry: BroadcastRegistry, configuration: MultistreamConfiguration, logger: Logger) throws {
        self.store = store
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        if let file = configuration.trustedCAFile {
            do {
                tlsConfiguration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(file))
            } catch {
                throw CAFileError(path: file, reason: "\(error)")
            }
        }
        tls = try NIOSSLContext(configuration: tlsConfiguration)
    }

    /// `--destination-ca-file` could not be read as PEM certificates.
    public struct CAFileError: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "cannot read the destination CA file \(path): \(reason)" }
    }

    /// Follows the registry: a broadcast that starts or ends is reconciled.
    public nonisolated func observe(_ lifecycle: BroadcastRegistry.Lifecycle) {
        let channel = switch lifecycle {
        case let .started(channel, _), let .ended(channel, _): channel
        }
        Task { await refresh(channel: channel) }
    }

    /// Starts a relay for every enabled destination of `channel` while it is live, and stops the rest. Calls for one
    /// channel never interleave: one that comes while another runs makes that one go round again.
    public func refresh(channel: String) async {
        guard !refreshing.contains(channel) else {
            pending.insert(channel)
            return
        }
        refreshing.insert(channel)
        defer { refreshing.remove(channel) }
        repeat {
            pending.remove(channel)
            await reconcile(channel)
        } while pending.contains(channel)
    }

    private func reconcile(_ channel: String) async {
        guard !stopped else { return }
        let destinations: [Destination]
        do {
            destinations = try await store.destinations(channel: channel)
        } catch {
            logger.error("multistream: could not read destinations", metadata: ["channel": "\(channel)", "error": "\(error)"])
            return
        }
        // A relayed broadcast is pushed from its origin node.
        let broadcast = registry.broadcast(channel).flatMap { $0.hasEnded || $0.relayedFrom != nil ? nil : $0 }
        var wanted: [String: (Destination, DestinationURL)] = [:]
        for destination in destinations where destination.enabled && broadcast != nil {
            do throws(DestinationURL.Refusal) {
                // Judged again: the rule may have changed since the destination was added (a restart without
                // --destination-allow-private).
                let target = try DestinationURL(destination.url, allowPrivateAddresses: configuration.allowPrivateAddresses)
                wanted[destination.id] = (destination, target)
            } catch {
                var status = RelayStatus(state: .idle, since: Date())
                status.lastError = error.description
                status.lastErrorAt = Date()
                finished[destination.id] = (channel, status)
            }
        }
        // Stop what is no longer wanted (removed, disabled, changed, or of a broadcast that ended), without waiting
        // here: a relay in the middle of connecting takes up to the connect timeout to notice.
        for (id, relay) in relays where relay.destination.channel == channel {
            if let (destination, _) = wanted[id], relay.broadcast === broadcast, relay.destination == destination { continue }
            relays[id] = nil
            finished[id] = (channel, relay.currentStatus)
            stopping[id] = Task { [weak self] in
                await relay.stop()
                await self?.relayStopped(relay)
            }
        }
        for (id, (destination, target)) in wanted where relays[id] == nil {
            guard let broadcast else { continue }
            let relay = DestinationRelay(destination: destination, target: target, broadcast: broadcast, configuration: configuration,
                                         tls: target.scheme == .rtmps ? tls : nil, logger: logger)
            relays[id] = relay
            finished[id] = nil
            relay.start()
        }
        // Forget what the relays of this channel's deleted destinations ended with.
        let known = Set(destinations.map(\.id))
        for (id, entry) in finished where entry.channel == channel && !known.contains(id) { finished[id] = nil }
    }

    private func relayStopped(_ relay: DestinationRelay) {
        let id = relay.destination.id
        stopping[id] = nil
        if finished[id] != nil, relays[id] == nil { finished[id] = (relay.destination.channel, relay.currentStatus) }
    }

    /// The destination's push as it stands: its relay's status while one runs; else idle (or disabled) with the
    /// counters and last error the last relay ended with.
    public func status(of destination: Destination) -> RelayStatus {
        if let relay = relays[destination.id] { return relay.currentStatus }
        var status = finished[destination.id]?.status ?? RelayStatus(state: .idle, since: destination.createdAt)
        status.state = destination.enabled ? .idle : .disabled
        status.retryAt = nil
        return status
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await stopAll()
    }

    /// Stops every relay; no new one starts afterwards.
    public func stopAll() async {
        stopped = true
        let running = relays
        relays = [:]
        let stopping = Array(self.stopping.values)
        await withTaskGroup(of: Void.self) { group in
            for relay in running.values { group.addTask { await relay.stop() } }
            for task in stopping { group.addTask { await task.value } }
        }
    }
}
