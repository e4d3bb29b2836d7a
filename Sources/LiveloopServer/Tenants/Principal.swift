import Foundation
import HTTPTypes
import Hummingbird
import Storage

/// Who is calling the REST API: the operator (the admin key, `ak_…`: every tenant, and it may manage tenants) or a
/// tenant's API key (`tk_…`: that tenant's channels only, within the key's scopes).
enum Principal: Sendable {
    case operatorKey
    case tenantKey(APIKey)

    /// The principal a presented key proves, or nil for a key this server does not accept (unknown, revoked).
    static func resolve(_ key: String, store: any Store) async throws -> Principal? {
        if key.hasPrefix(APIKey.secretPrefix) { return try await store.apiKey(forSecret: key).map(Principal.tenantKey) }
        return try await store.verifyAdminKey(key) ? .operatorKey : nil
    }

    /// The tenant a key is confined to; nil for the operator.
    var tenantID: String? {
        switch self {
        case .operatorKey: nil
        case let .tenantKey(key): key.tenantID
        }
    }

    /// Refuses (403, naming the scope) a tenant key without `scope`; the operator has every scope.
    func require(_ scope: APIScope) throws(APIError) {
        guard case let .tenantKey(key) = self, !key.allows(scope) else { return }
        throw Self.missing(scope)
    }

    static func missing(_ scope: APIScope) -> APIError {
        var error = APIError(.forbidden, code: "missing_scope", message: "this API key lacks the \"\(scope.rawValue)\" scope")
        error.scope = scope.rawValue
        return error
    }

    /// Refuses everyone but the operator (403).
    func requireOperator(_ what: String) throws(APIError) {
        guard case .tenantKey = self else { return }
        throw APIError(.forbidden, code: "operator_only", message: "only the operator's admin key may \(what)")
    }

    /// Whether the caller may see this channel: the operator sees every one, a tenant key its tenant's.
    func sees(_ channel: Channel) -> Bool { tenantID.map { $0 == channel.tenantID } ?? true }

    /// The channel, when it exists and the caller may see it; otherwise the same 404 for both, so a key learns
    /// nothing about another tenant's channels.
    func channel(named name: String, in store: any Store) async throws -> Channel {
        guard let channel = try await store.channel(named: name), sees(channel) else { throw ChannelAPI.apiError(.channelNotFound(name)) }
        return channel
    }

    /// The tenant, when it exists and the caller may see it (a tenant key sees only its own); else 404.
    func tenant(_ idOrName: String, in store: any Store) async throws -> Tenant {
        guard let tenant = try await store.tenant(idOrName), tenantID.map({ $0 == tenant.id }) ?? true else {
            throw ChannelAPI.apiError(.tenantNotFound(idOrName))
        }
        return tenant
    }
}

extension LiveloopRequestContext {
    /// The caller proven by `APIKeyMiddleware`, after a check that it has `scope`.
    func principal(_ scope: APIScope) throws -> Principal {
        guard let principal else { throw APIError.unauthorized }
        try principal.require(scope)
        return principal
    }
}

/// Requires an API key — the operator's admin key or a tenant key — as `Authorization: Bearer …` or `X-API-Key: …`,
/// and records who it proves in the context for the route to check scopes and tenants.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = LiveloopRequestContext
    let store: any Store

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let key = AdminKeyMiddleware<Context>.presentedKey(request), let principal = try await Principal.resolve(key, store: store) else {
            throw APIError.unauthorized
        }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }
}
