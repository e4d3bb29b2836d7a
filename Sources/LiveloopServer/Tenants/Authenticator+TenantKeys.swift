import Interaction
import Storage

extension Authenticator {
    /// A tenant API key on a room or status route: the host of its own tenant's channels when it has `channels:write`.
    /// Another tenant's channel is answered as if it did not exist (404).
    func tenantKeyIdentity(_ secret: String, channel: String) async throws -> Identity {
        guard let key = try await store.apiKey(forSecret: secret) else { throw APIError.unauthorized }
        guard let found = try await store.channel(named: channel), found.tenantID == key.tenantID else {
            throw APIError.notFound("no channel \"\(channel)\"")
        }
        guard key.allows(.channelsWrite) else { throw Principal.missing(.channelsWrite) }
        return Identity(sub: "apikey-\(key.id)", name: "API", role: .host)
    }
}
