import Foundation

/// How an app's viewer signs in to a channel's room (docs/embedding.md "How viewers join").
public enum Credentials: Sendable {
    /// An `open` channel: join by display name (`POST /api/v1/channels/C/join`). The server mints a viewer token for a
    /// new `sub`; the client renews it before it expires, keeping the `sub`, so reconnects and renewals count as one
    /// viewer (one ballot per poll). Pass the `JoinPass` you saved (`InteractionClient.joinPass`) as `resuming` to keep
    /// the same `sub` across app launches.
    case name(String, resuming: JoinPass? = nil)
    /// A `signed` channel: a token your backend signed with the channel's key for your user. The closure is asked for
    /// one before the first connect and again before a reconnect when the last one expires within a minute.
    case signed(@Sendable () async throws -> String)
    /// A token you already hold (minted by the operator: `liveloop token`, `POST …/tokens`), used as it is.
    case token(String)
    /// No token: a guest, where the channel allows guests (reads and reacts).
    case guest
}

/// What an open join returns: the viewer token and who it names. `Codable`, so an app can keep it (in the keychain)
/// and resume as the same viewer after a relaunch with `Credentials.name(_:resuming:)`.
public struct JoinPass: Sendable, Hashable, Codable {
    public var token: String
    /// The viewer's id (`open-…`): ballots, answers and bans key on it.
    public var sub: String
    public var name: String
    public var expiresAt: Date
    /// When to ask for a new token (two thirds of its life).
    public var renewAt: Date

    public init(token: String, sub: String, name: String, expiresAt: Date, renewAt: Date) {
        self.token = token
        self.sub = sub
        self.name = name
        self.expiresAt = expiresAt
        self.renewAt = renewAt
    }
}

/// The public face of a channel's audience settings (`GET /api/v1/channels/C/page`): how its viewers join, so an app
/// knows whether to ask for a name, sign the user in, or just watch.
public struct ChannelPage: Sendable, Hashable, Decodable {
    /// `open` (join by name), `signed` (your backend signs tokens) or `guests` (watch-only).
    public enum JoinMode: String, Sendable, Hashable, Decodable {
        case open, signed, guests
    }

    public var channel: String
    public var join: JoinMode
    /// The video plays only with a playback token (members-only).
    public var `private`: Bool
    /// Connections without a token are let in as guests.
    public var guestsAllowed: Bool
}

/// Why joining failed, typed so an app can tell "pick another name" from "try again later".
public enum JoinError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The server said no, with its status and stable error code (`invalid_name`, `name_blocked`, `name_reserved`,
    /// `join_closed`, `unauthorized`, `not_found`, …; docs/embedding.md).
    case refused(status: Int, code: String, message: String)
    /// Too many joins from this address: try again after `retryAfter` (`429 rate_limited`).
    case rateLimited(retryAfter: Duration?)
    /// The server address is not an `http://` or `https://` URL.
    case invalidServer(String)
    /// No answer, or one that is not the API's JSON (a proxy's error page, a dropped connection).
    case unreachable(String)
    /// The app's token closure (`Credentials.signed`) threw.
    case tokenProvider(String)

    public var description: String {
        switch self {
        case .refused(let status, let code, let message): "refused (HTTP \(status), \(code)): \(message)"
        case .rateLimited(let retryAfter): "too many joins; retry" + (retryAfter.map { " after \($0)" } ?? " later")
        case .invalidServer(let server): "not an http(s) server address: \(server)"
        case .unreachable(let why): "the join API did not answer: \(why)"
        case .tokenProvider(let why): "the app's token provider failed: \(why)"
        }
    }
}
