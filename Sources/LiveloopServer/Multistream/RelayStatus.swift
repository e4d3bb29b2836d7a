import Foundation

/// How a destination's push stands, as the API and the studio show it.
public struct RelayStatus: Sendable, Equatable {
    public enum State: String, Sendable {
        /// The channel is not live (or the push ended with the broadcast).
        case idle
        /// Turned off by the host: not pushed even while live.
        case disabled
        /// Resolving, connecting, the handshakes, waiting for `publish` to be answered.
        case connecting
        /// Publishing: media flows.
        case live
        /// The last attempt failed (`lastError`); the next one is due at `retryAt`.
        case retrying
    }

    public var state: State
    /// When it entered this state.
    public var since: Date
    /// Bytes written to the destination's socket during the current or last broadcast (TLS included), across reconnects.
    public var bytesOut: Int64 = 0
    /// Connections that reached `live` during the current or last broadcast.
    public var connects = 0
    /// Why the last attempt or connection failed: no key, no URL, at most 200 characters.
    public var lastError: String?
    public var lastErrorAt: Date?
    public var retryAt: Date?

    public init(state: State, since: Date) {
        self.state = state
        self.since = since
    }
}
