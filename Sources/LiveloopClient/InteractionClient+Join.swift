import Foundation
import Interaction
import Logging

/// Getting into a channel's room from an app: ask the channel how its viewers join, then join by name, with a token
/// from your backend, or as a guest (docs/sdk.md).
extension InteractionClient {
    /// Joins an `open` channel by display name and connects. The viewer token is renewed before it expires, with
    /// the same `sub`; reconnects (automatic, with `lastSeq`) use the renewed token, so the viewer counts once.
    ///
    /// ```swift
    /// let client = try await InteractionClient.join(server: "https://live.example.com", channel: "show", name: "Ada")
    /// for await poll in client.polls where poll.phase == .live { try await client.vote(poll: poll.pollID, choice: 0) }
    /// ```
    public static func join(server: String, channel: String, name: String,
                            configuration: Configuration = Configuration(),
                            logger: Logger = Logger(label: "liveloop.client")) async throws(InteractionClientError) -> InteractionClient {
        try await join(server: server, channel: channel, as: .name(name), configuration: configuration, logger: logger)
    }

    /// Joins a channel with any kind of credentials and connects; returns once the server's `hello` has arrived.
    /// `lastSeq` resumes an earlier session of the same viewer (see `connect`).
    public static func join(server: String, channel: String, as credentials: Credentials, lastSeq: UInt64? = nil,
                            configuration: Configuration = Configuration(),
                            logger: Logger = Logger(label: "liveloop.client")) async throws(InteractionClientError) -> InteractionClient {
        let keeper: TokenKeeper
        do throws(JoinError) {
            switch credentials {
            case .name(let name, let saved):
                keeper = TokenKeeper(.open(try JoinAPIClient(server: server, channel: channel), name: name), resuming: saved)
            case .signed(let provider):
                keeper = TokenKeeper(.signed(provider))
            case .token(let token):
                keeper = TokenKeeper(.fixed(token))
            case .guest:
                keeper = TokenKeeper(.fixed(nil))
            }
        } catch {
            throw .join(error)
        }
        let socketURL = Self.url(server: server, channel: channel)
        do {
            let client = try await connect(url: socketURL, keeper: keeper, lastSeq: lastSeq, configuration: configuration, logger: logger)
            client.startRenewing()
            return client
        } catch {
            throw typed(error)
        }
    }

    /// How a channel's viewers join (`open`, `signed`, `guests`), whether its video is members-only and whether it
    /// lets guests in: what an app reads before it shows a name field or a sign-in button.
    public static func channelPage(server: String, channel: String) async throws(JoinError) -> ChannelPage {
        try await JoinAPIClient(server: server, channel: channel).page()
    }
}
