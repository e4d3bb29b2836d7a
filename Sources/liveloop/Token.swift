import ArgumentParser
import Foundation
import Interaction
import LiveloopServer
import Storage

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mint a signed token (JWT, HS256, with a jti) for a viewer, moderator or host of a channel.",
        discussion: "Prints the token. Take it back with `liveloop tokens revoke --jti …` (its jti is printed to stderr)."
    )

    @Option(help: "Channel the token is valid on ('*' for every channel).") var channel: String
    @Option(help: "Role: viewer, moderator or host.") var role = "viewer"
    @Option(help: "Stable user id (the JWT 'sub'); bans and votes are per sub.") var sub: String
    @Option(help: "Display name.") var name: String?
    @Option(help: "Lifetime in seconds (default 4 hours, at most 24 hours).") var ttl = Int(TokenAuthority.defaultLifetime)
    @OptionGroup var data: DataOptions

    func validate() throws {
        guard let role = Role(rawValue: role), role != .guest else { throw ValidationError("--role must be viewer, moderator or host") }
        guard (1...Int(TokenAuthority.maximumLifetime)).contains(ttl) else {
            throw ValidationError("--ttl must be 1 to \(Int(TokenAuthority.maximumLifetime)) seconds (24 hours)")
        }
        guard !sub.isEmpty, sub.count <= 128 else { throw ValidationError("--sub must be 1–128 characters") }
    }

    func run() async throws {
        let now = Date()
        let claims = LiveloopClaims(
            sub: sub, name: name ?? sub, role: Role(rawValue: role) ?? .viewer, channel: channel,
            expires: now.addingTimeInterval(Double(ttl)), issuedAt: now
        )
        print(try await data.withStore { try await TokenAuthority(store: $0).mint(claims) })
        FileHandle.standardError.write(Data("jti \(claims.tokenID ?? "")\n".utf8))
    }
}

struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke tokens and rotate the signing secret (works with or without a running server).",
        subcommands: [Revoke.self, RotateSecret.self, Prune.self]
    )

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke one token (by --jti or --token), every token of a --sub on a channel, or every token of a channel (--all).",
            discussion: """
            A revoked token is refused at its next authentication; a running server closes its open WebSockets within \
            a few seconds. --sub and --all cover tokens issued up to now: new tokens for that user or channel work. \
            Revocations are kept 24 hours (the longest a token lives), then pruned.
            """
        )

        @Option(help: "The jti of the token to revoke.") var jti: String?
        @Option(help: "The token itself (its jti is read from it).") var token: String?
        @Option(help: "Revoke every token of this sub on --channel.") var sub: String?
        @Flag(help: "Revoke every token of --channel.") var all = false
        @Option(help: "Channel for --sub and --all ('*' for every channel).") var channel: String?
        @OptionGroup var data: DataOptions

        func validate() throws {
            let given = [jti != nil, token != nil, sub != nil, all].filter { $0 }.count
            guard given == 1 else { throw ValidationError("give exactly one of --jti, --token, --sub or --all") }
            if sub != nil || all, channel == nil { throw ValidationError("--sub and --all need --channel") }
            if let sub, sub.isEmpty || sub.count > 128 { throw ValidationError("--sub must be 1–128 characters") }
        }

        func run() async throws {
            try await data.withStore { try await revoke(in: $0) }
        }

        private func revoke(in store: any Store) async throws {
            let authority = try await TokenAuthority(store: store)
            let scope: Revocation.Scope
            if let jti {
                scope = .token(jti: jti)
            } else if let token {
                guard let claims = await authority.claims(of: token), let id = claims.tokenID else {
                    throw ValidationError("that is not a token of this server (revoke by --sub or --all instead)")
                }
                scope = .token(jti: id)
            } else if let sub {
                scope = .subject(sub: sub, channel: channel ?? "*")
            } else {
                scope = .channel(channel ?? "*")
            }
            guard let revocation = try await authority.revoke(scope) else { return }
            print("revoked \(Self.describe(scope)); record kept until \(revocation.expiresAt.formatted(.iso8601))")
        }

        static func describe(_ scope: Revocation.Scope) -> String {
            switch scope {
            case .token(let jti): "token \(jti)"
            case .subject(let sub, let channel): "every token of \(sub) on \(channel == "*" ? "every channel" : channel)"
            case .channel(let channel): channel == "*" ? "every token" : "every token of channel \(channel)"
            }
        }
    }

    struct RotateSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-secret",
            abstract: "Replace the token signing secret; tokens signed with the old one keep working for --overlap, then fail."
        )

        @Option(help: "Seconds the old secret is still accepted (default 3600; 0: at once; at most 86400).")
        var overlap = Int(TokenAuthority.defaultRotationOverlap)
        @OptionGroup var data: DataOptions

        func validate() throws {
            guard (0...Int(TokenAuthority.maximumLifetime)).contains(overlap) else {
                throw ValidationError("--overlap must be 0 to \(Int(TokenAuthority.maximumLifetime)) seconds")
            }
        }

        func run() async throws {
            let now = Date()
            try await data.withStore { try await TokenAuthority(store: $0).rotate(overlap: TimeInterval(overlap), at: now) }
            print("rotated; tokens signed with the previous secret are refused after \(now.addingTimeInterval(TimeInterval(overlap)).formatted(.iso8601))")
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Forget revocations whose tokens have all expired (the server also does this as it revokes).")
        @OptionGroup var data: DataOptions

        func run() async throws {
            let removed = try await data.withStore { try await $0.pruneRevocations(at: Date()) }
            print("pruned \(removed) revocation\(removed == 1 ? "" : "s")")
        }
    }
}
