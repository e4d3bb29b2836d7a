import ArgumentParser
import Foundation
import Interaction
import LiveloopServer
import Storage

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mint a signed token (JWT, HS256) for a viewer, moderator or host of a channel, for testing and integrations."
    )

    @Option(help: "Channel the token is valid on ('*' for every channel).") var channel: String
    @Option(help: "Role: viewer, moderator or host.") var role = "viewer"
    @Option(help: "Stable user id (the JWT 'sub'); bans and votes are per sub.") var sub: String
    @Option(help: "Display name.") var name: String?
    @Option(help: "Lifetime in seconds.") var ttl = 3600
    @OptionGroup var data: DataOptions

    func validate() throws {
        guard let role = Role(rawValue: role), role != .guest else { throw ValidationError("--role must be viewer, moderator or host") }
        guard (1...31_536_000).contains(ttl) else { throw ValidationError("--ttl must be 1 second to 1 year") }
        guard !sub.isEmpty, sub.count <= 128 else { throw ValidationError("--sub must be 1–128 characters") }
    }

    func run() async throws {
        let store = try SQLiteStore(directory: data.dataDirectory)
        let authority = await TokenAuthority(secret: try store.secret(named: LiveloopServer.tokenSecretName))
        let claims = LiveloopClaims(
            sub: sub, name: name ?? sub, role: Role(rawValue: role) ?? .viewer, channel: channel,
            expires: Date().addingTimeInterval(Double(ttl))
        )
        print(try await authority.mint(claims))
    }
}
