import ArgumentParser
import Foundation
import Storage

/// `liveloop tenants …`: the operator's side of tenants, on the data directory (with or without a running server).
struct Tenants: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, set quotas of and delete tenants, and manage their API keys (works with or without a running server).",
        discussion: """
        A tenant owns channels and API keys (tk_…). Its keys see and change only its own channels; each carries scopes: \
        read, channels:write (includes read), admin (includes both, and manages the tenant's keys). Quotas bound its \
        channels, concurrent viewers and concurrent publishers; "none" (or leaving one out) is unlimited.
        """,
        subcommands: [Create.self, List.self, Quotas.self, Delete.self, Keys.self]
    )

    struct QuotaOptions: ParsableArguments {
        @Option(help: "Channels the tenant may have (a number, or none).") var maxChannels: Quota?
        @Option(help: "Viewer WebSockets open at once on its channels (a number, or none).") var maxViewers: Quota?
        @Option(help: "Its channels publishing at once (a number, or none).") var maxPublishers: Quota?

        var quotas: TenantQuotas {
            TenantQuotas(maxChannels: maxChannels?.value, maxViewers: maxViewers?.value, maxPublishers: maxPublishers?.value)
        }
    }

    /// A quota on the command line: a whole number, or `none` for unlimited.
    struct Quota: ExpressibleByArgument {
        var value: Int?
        init?(argument: String) {
            if argument == "none" { value = nil; return }
            guard let number = Int(argument), (0...TenantQuotas.maximum).contains(number) else { return nil }
            value = number
        }
    }

    struct TenantOutput: Encodable {
        var id: String
        var name: String
        var createdAt: Date
        var maxChannels: Int?
        var maxViewers: Int?
        var maxPublishers: Int?
        var apiKey: String?
        var keyID: String?
    }

    struct KeyOutput: Encodable {
        var id: String
        var tenant: String
        var scopes: [String]
        var createdAt: Date
        var lastUsedAt: Date?
        var revokedAt: Date?
        var apiKey: String?
    }

    static func output(_ tenant: Tenant, key: APIKey? = nil, secret: String? = nil) -> TenantOutput {
        TenantOutput(id: tenant.id, name: tenant.name, createdAt: tenant.createdAt, maxChannels: tenant.quotas.maxChannels,
                     maxViewers: tenant.quotas.maxViewers, maxPublishers: tenant.quotas.maxPublishers, apiKey: secret, keyID: key?.id)
    }

    static func output(_ key: APIKey, secret: String? = nil) -> KeyOutput {
        KeyOutput(id: key.id, tenant: key.tenantID, scopes: key.scopes.map(\.rawValue), createdAt: key.createdAt,
                  lastUsedAt: key.lastUsedAt, revokedAt: key.revokedAt, apiKey: secret)
    }

    static func describe(_ quotas: TenantQuotas) -> String {
        func text(_ value: Int?) -> String { value.map(String.init) ?? "unlimited" }
        return "channels \(text(quotas.maxChannels)), viewers \(text(quotas.maxViewers)), publishers \(text(quotas.maxPublishers))"
    }

    /// Runs a store call, turning its errors into the CLI's one-line message.
    static func store<T: Sendable>(_ data: DataOptions, _ work: (any Store) async throws -> T) async throws -> T {
        try await data.withStore(work)
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant and print its first API key (scope admin), shown once.")
        @Argument(help: "Tenant name: 1–64 of a–z, 0–9, '-', '_'.") var name: String
        @OptionGroup var quotas: QuotaOptions
        @Flag(help: "Print JSON (id, name, quotas, apiKey, keyID).") var json = false
        @OptionGroup var data: DataOptions

        func run() async throws {
            let (tenant, key, secret) = try await Tenants.store(data) { try await $0.createTenant(name: name, quotas: quotas.quotas) }
            if json { return try Channels.printJSON(Tenants.output(tenant, key: key, secret: secret)) }
            print("tenant:  \(tenant.name) (\(tenant.id))")
            print("quotas:  \(Tenants.describe(tenant.quotas))")
            print("API key: \(secret)   (scope admin; shown once; 'tenants keys rotate' makes a new one)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var data: DataOptions

        func run() async throws {
            let tenants = try await Tenants.store(data) { try await $0.tenants() }
            if json { return try Channels.printJSON(tenants.map { Tenants.output($0) }) }
            for tenant in tenants { print("\(tenant.name)\t\(tenant.id)\t\(Tenants.describe(tenant.quotas))") }
        }
    }

    struct Quotas: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a tenant's quotas (each one left out becomes unlimited); a running server applies them within seconds."
        )
        @Argument(help: "Tenant name or id.") var tenant: String
        @OptionGroup var quotas: QuotaOptions
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var data: DataOptions

        func run() async throws {
            let updated = try await Tenants.store(data) { try await $0.setQuotas(tenant: tenant, quotas.quotas) }
            if json { return try Channels.printJSON(Tenants.output(updated)) }
            print("\(updated.name): \(Tenants.describe(updated.quotas))")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a tenant and its keys (refused while it has channels).")
        @Argument(help: "Tenant name or id.") var tenant: String
        @OptionGroup var data: DataOptions

        func run() async throws {
            try await Tenants.store(data) { try await $0.deleteTenant(tenant) }
            print("deleted \(tenant)")
        }
    }

    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create, list, rotate and revoke a tenant's API keys.",
            subcommands: [CreateKey.self, ListKeys.self, RotateKey.self, RevokeKey.self]
        )
    }

    struct CreateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Make a key with the given scopes and print it (shown once).")
        @Argument(help: "Tenant name or id.") var tenant: String
        @Option(name: .customLong("scope"), help: "read, channels:write or admin (repeat for several).") var scopes: [String] = []
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var data: DataOptions

        func validate() throws {
            guard !scopes.isEmpty else { throw ValidationError("give at least one --scope (read, channels:write, admin)") }
            for scope in scopes where APIScope(rawValue: scope) == nil {
                throw ValidationError("unknown scope \"\(scope)\": use read, channels:write or admin")
            }
        }

        func run() async throws {
            let (key, secret) = try await Tenants.store(data) { try await $0.createAPIKey(tenant: tenant, scopes: scopes.compactMap(APIScope.init)) }
            if json { return try Channels.printJSON(Tenants.output(key, secret: secret)) }
            print("key:     \(key.id) (\(key.scopes.map(\.rawValue).joined(separator: ", ")))")
            print("API key: \(secret)   (shown once)")
        }
    }

    struct ListKeys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List a tenant's keys (never their secrets).")
        @Argument(help: "Tenant name or id.") var tenant: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var data: DataOptions

        func run() async throws {
            let keys = try await Tenants.store(data) { try await $0.apiKeys(tenant: tenant) }
            if json { return try Channels.printJSON(keys.map { Tenants.output($0) }) }
            for key in keys {
                let state = key.revokedAt.map { "revoked \($0.formatted(.iso8601))" } ?? "active"
                print("\(key.id)\t\(key.scopes.map(\.rawValue).joined(separator: ","))\t\(state)")
            }
        }
    }

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rotate", abstract: "Give a key a new secret (same id and scopes); the old one stops working.")
        @Argument(help: "Tenant name or id.") var tenant: String
        @Argument(help: "Key id (key_…).") var key: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var data: DataOptions

        func run() async throws {
            let (rotated, secret) = try await Tenants.store(data) { try await $0.rotateAPIKey(tenant: tenant, id: key) }
            if json { return try Channels.printJSON(Tenants.output(rotated, secret: secret)) }
            print("API key: \(secret)   (shown once)")
        }
    }

    struct RevokeKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a key: refused from the next request on.")
        @Argument(help: "Tenant name or id.") var tenant: String
        @Argument(help: "Key id (key_…).") var key: String
        @OptionGroup var data: DataOptions

        func run() async throws {
            _ = try await Tenants.store(data) { try await $0.revokeAPIKey(tenant: tenant, id: key) }
            print("revoked \(key)")
        }
    }
}
