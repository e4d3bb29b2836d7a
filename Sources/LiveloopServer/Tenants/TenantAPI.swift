import Foundation
import HTTPTypes
import Hummingbird
import LiveMedia
import Storage

/// `/api/v1/tenants`: the operator's admin key creates, lists, changes the quotas of and deletes tenants; a tenant's
/// `admin` key manages its own keys (create with scopes, list, rotate, revoke) and reads its own tenant. A key of one
/// tenant is answered 404 for every other tenant. Key secrets appear only in the answer that made them.
struct TenantAPI {
    let store: any Store
    let registry: BroadcastRegistry
    let viewers: TenantViewers

    struct Usage: Encodable {
        var channels: Int
        var viewers: Int
        var publishers: Int
    }

    struct TenantBody: Encodable {
        var id: String
        var name: String
        var createdAt: Date
        var maxChannels: Int?
        var maxViewers: Int?
        var maxPublishers: Int?
        var usage: Usage
        /// Only in the answer that created the tenant: its first key (scope `admin`), shown once.
        var apiKey: String?
        var keyID: String?
    }

    struct KeyBody: Encodable {
        var id: String
        var tenant: String
        var scopes: [String]
        var createdAt: Date
        var lastUsedAt: Date?
        var revokedAt: Date?
        /// Only in the answer that created or rotated the key.
        var apiKey: String?
    }

    struct CreateTenant: Decodable {
        var name: String
        var maxChannels: Int?
        var maxViewers: Int?
        var maxPublishers: Int?
    }

    /// The quotas as a whole: a field left out (or null) is unlimited.
    struct Quotas: Decodable {
        var maxChannels: Int?
        var maxViewers: Int?
        var maxPublishers: Int?
    }

    struct CreateKey: Decodable { var scopes: [String] }

    func register(on router: Router<LiveloopRequestContext>) {
        let api = router.group("api/v1/tenants").add(middleware: APIKeyMiddleware(store: store))
        api.post { request, context in
            try context.principal(.admin).requireOperator("create tenants")
            let ask = try await request.decode(as: CreateTenant.self, context: context)
            let quotas = TenantQuotas(maxChannels: ask.maxChannels, maxViewers: ask.maxViewers, maxPublishers: ask.maxPublishers)
            let (tenant, key, secret) = try await storeCall { try await store.createTenant(name: ask.name, quotas: quotas) }
            var body = try await body(tenant)
            body.apiKey = secret
            body.keyID = key.id
            return try jsonResponse(.created, body)
        }
        // The operator sees every tenant; a tenant key its own.
        api.get { _, context in
            let principal = try context.principal(.read)
            let tenants = try await store.tenants().filter { tenant in principal.tenantID.map { $0 == tenant.id } ?? true }
            var bodies: [TenantBody] = []
            for tenant in tenants { bodies.append(try await body(tenant)) }
            return try jsonResponse(.ok, bodies)
        }
        api.get(":tenant") { _, context in
            let tenant = try await context.principal(.read).tenant(context.parameters.get("tenant") ?? "", in: store)
            return try await jsonResponse(.ok, body(tenant))
        }
        api.put(":tenant/quotas") { request, context in
            let principal = try context.principal(.admin)
            let tenant = try await principal.tenant(context.parameters.get("tenant") ?? "", in: store)
            try principal.requireOperator("change quotas")
            let ask = try await request.decode(as: Quotas.self, context: context)
            let quotas = TenantQuotas(maxChannels: ask.maxChannels, maxViewers: ask.maxViewers, maxPublishers: ask.maxPublishers)
            return try await jsonResponse(.ok, body(storeCall { try await store.setQuotas(tenant: tenant.id, quotas) }))
        }
        api.delete(":tenant") { _, context in
            let principal = try context.principal(.admin)
            let tenant = try await principal.tenant(context.parameters.get("tenant") ?? "", in: store)
            try principal.requireOperator("delete tenants")
            try await storeCall { try await store.deleteTenant(tenant.id) }
            return Response(status: .noContent)
        }
        api.get(":tenant/keys") { _, context in
            let tenant = try await context.principal(.admin).tenant(context.parameters.get("tenant") ?? "", in: store)
            return try jsonResponse(.ok, try await store.apiKeys(tenant: tenant.id).map { Self.body($0, secret: nil) })
        }
        api.post(":tenant/keys") { request, context in
            let tenant = try await context.principal(.admin).tenant(context.parameters.get("tenant") ?? "", in: store)
            let ask = try await request.decode(as: CreateKey.self, context: context)
            let scopes = try Self.scopes(ask.scopes)
            let (key, secret) = try await storeCall { try await store.createAPIKey(tenant: tenant.id, scopes: scopes) }
            return try jsonResponse(.created, Self.body(key, secret: secret))
        }
        api.post(":tenant/keys/:key/rotate") { _, context in
            let tenant = try await context.principal(.admin).tenant(context.parameters.get("tenant") ?? "", in: store)
            let (key, secret) = try await storeCall { try await store.rotateAPIKey(tenant: tenant.id, id: context.parameters.get("key") ?? "") }
            return try jsonResponse(.ok, Self.body(key, secret: secret))
        }
        api.delete(":tenant/keys/:key") { _, context in
            let tenant = try await context.principal(.admin).tenant(context.parameters.get("tenant") ?? "", in: store)
            _ = try await storeCall { try await store.revokeAPIKey(tenant: tenant.id, id: context.parameters.get("key") ?? "") }
            return Response(status: .noContent)
        }
    }

    /// Scope names checked one by one, so an unknown one is named in the answer.
    static func scopes(_ names: [String]) throws(APIError) -> [APIScope] {
        let valid = APIScope.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        guard (1...APIScope.allCases.count).contains(names.count) else {
            throw APIError.badRequest("scopes must list 1 to \(APIScope.allCases.count) of \(valid)")
        }
        return try names.map { name throws(APIError) in
            guard let scope = APIScope(rawValue: name) else {
                throw APIError.badRequest("unknown scope \"\(name.prefix(64))\": use \(valid)")
            }
            return scope
        }
    }

    private func storeCall<T>(_ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let error as StoreError {
            throw ChannelAPI.apiError(error)
        }
    }

    func body(_ tenant: Tenant) async throws -> TenantBody {
        let names = Set(try await store.channels(tenant: tenant.id).map(\.name))
        let publishers = registry.all.filter { !$0.hasEnded && names.contains($0.channel) }.count
        return TenantBody(id: tenant.id, name: tenant.name, createdAt: tenant.createdAt, maxChannels: tenant.quotas.maxChannels,
                          maxViewers: tenant.quotas.maxViewers, maxPublishers: tenant.quotas.maxPublishers,
                          usage: Usage(channels: names.count, viewers: viewers.count(tenant: tenant.id), publishers: publishers))
    }

    static func body(_ key: APIKey, secret: String?) -> KeyBody {
        KeyBody(id: key.id, tenant: key.tenantID, scopes: key.scopes.map(\.rawValue), createdAt: key.createdAt,
                lastUsedAt: key.lastUsedAt, revokedAt: key.revokedAt, apiKey: secret)
    }
}
