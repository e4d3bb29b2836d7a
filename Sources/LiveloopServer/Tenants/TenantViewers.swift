import Foundation
import HTTPTypes
import Storage
import Synchronization

/// Counts each tenant's open viewer connections (interaction and video WebSockets of its channels) against its
/// `maxViewers` quota, so one tenant's crowd or flood is refused at its own limit and never takes the slots, rooms or
/// sockets another tenant's viewers need.
///
/// Which tenant owns a channel, and its quota, are read from the store and kept for `refreshInterval`: a flood of
/// upgrades costs a dictionary lookup each, not a database read, and a quota changed by the CLI counts within that time.
final class TenantViewers: Sendable {
    struct Owner: Sendable {
        var tenant: String
        var limit: Int?
        var fetchedAt: ContinuousClock.Instant
    }

    /// A counted connection, to be given back with `release` when it closes.
    struct Lease: Sendable {
        fileprivate let tenant: String?
    }

    private struct State {
        var open: [String: Int] = [:]
        var owners: [String: Owner] = [:]
    }

    static let refreshInterval: Duration = .seconds(2)
    /// Owners kept at most (channels looked up); past this the cache starts over.
    static let maximumCachedChannels = 10_000

    private let store: any Store
    private let state = Mutex(State())

    init(store: any Store) {
        self.store = store
    }

    /// The refusal a new viewer of `channel` would get now, or nil when there is room (for the upgrade's answer).
    func refusal(channel: String, now: ContinuousClock.Instant = .now) async -> APIError? {
        guard let owner = await owner(of: channel, now: now), let limit = owner.limit else { return nil }
        let open = state.withLock { $0.open[owner.tenant] ?? 0 }
        return open < limit ? nil : Self.full(limit: limit)
    }

    /// Counts a viewer of `channel` in, or refuses it when its tenant's quota is reached.
    func admit(channel: String, now: ContinuousClock.Instant = .now) async throws(APIError) -> Lease {
        guard let owner = await owner(of: channel, now: now) else { return Lease(tenant: nil) }
        let admitted = state.withLock { state -> Bool in
            let open = state.open[owner.tenant] ?? 0
            if let limit = owner.limit, open >= limit { return false }
            state.open[owner.tenant] = open + 1
            return true
        }
        guard admitted else { throw Self.full(limit: owner.limit ?? 0) }
        return Lease(tenant: owner.tenant)
    }

    func release(_ lease: Lease) {
        guard let tenant = lease.tenant else { return }
        state.withLock { state in
            let left = (state.open[tenant] ?? 1) - 1
            state.open[tenant] = left > 0 ? left : nil
        }
    }

    /// Viewer connections open now on the tenant's channels.
    func count(tenant: String) -> Int { state.withLock { $0.open[tenant] ?? 0 } }

    private func owner(of channel: String, now: ContinuousClock.Instant) async -> Owner? {
        if let cached = state.withLock({ $0.owners[channel] }), now - cached.fetchedAt < Self.refreshInterval { return cached }
        // A store that cannot be read refuses no one here: the routes' own lookups answer that error.
        guard let tenant = try? await store.tenant(ofChannel: channel) else { return nil }
        let owner = Owner(tenant: tenant.id, limit: tenant.quotas.maxViewers, fetchedAt: now)
        state.withLock { state in
            if state.owners.count >= Self.maximumCachedChannels { state.owners.removeAll(keepingCapacity: true) }
            state.owners[channel] = owner
        }
        return owner
    }

    static func full(limit: Int) -> APIError {
        var error = APIError(.tooManyRequests, code: "tenant_quota",
                             message: "this channel's tenant has its quota of \(limit) concurrent viewers; try again later")
        error.quota = "viewers"
        error.limit = limit
        return error
    }
}
