import NIOCore

/// Decides when an RTMP connection is closed for going nowhere: no accepted `publish` within the setup timeout, or no
/// progress within the idle timeout.
///
/// Progress is a whole unit of the protocol — a handshake packet or a complete RTMP message — never a byte count, so a
/// peer that trickles a byte every few seconds makes none. Time is passed in; the connection handler asks
/// `verdict(at:)` when the last deadline it was given comes, and schedules the next.
public struct RTMPLiveness: Sendable {
    public enum Reason: Sendable, Equatable, CustomStringConvertible {
        /// No `publish` was accepted within this long of the connection opening.
        case setupTimedOut(TimeAmount)
        /// Nothing whole arrived for this long.
        case idle(TimeAmount)

        public var description: String {
            switch self {
            case let .setupTimedOut(t): "no accepted publish within \(Self.seconds(t)) of connecting"
            case let .idle(t): "no complete RTMP message for \(Self.seconds(t))"
            }
        }

        private static func seconds(_ t: TimeAmount) -> String {
            let ms = t.nanoseconds / 1_000_000
            return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
        }
    }

    public enum Verdict: Sendable, Equatable {
        /// Still fine; ask again at this deadline.
        case open(until: NIODeadline)
        case close(Reason)
    }

    public let setupTimeout: TimeAmount
    public let idleTimeout: TimeAmount
    /// When the current setup began: the accept, or the last `unpublish` (a connection that stops publishing must
    /// publish again or go).
    private var setupStart: NIODeadline
    private var lastProgress: NIODeadline
    public private(set) var isPublishing = false

    public init(limits: RTMPConnectionLimits, openedAt now: NIODeadline) {
        setupTimeout = TimeAmount(limits.setupTimeout)
        idleTimeout = TimeAmount(limits.idleTimeout)
        setupStart = now
        lastProgress = now
    }

    /// A handshake packet or a whole message arrived.
    public mutating func progressed(at now: NIODeadline) {
        lastProgress = max(lastProgress, now)
    }

    /// The stream key was accepted: from now on only the idle timeout applies.
    public mutating func publishAccepted(at now: NIODeadline) {
        isPublishing = true
        progressed(at: now)
    }

    /// The publisher stopped but kept the connection: it has a new setup timeout to publish again.
    public mutating func unpublished(at now: NIODeadline) {
        isPublishing = false
        setupStart = now
        progressed(at: now)
    }

    public func verdict(at now: NIODeadline) -> Verdict {
        let idleDeadline = lastProgress + idleTimeout
        if !isPublishing {
            let setupDeadline = setupStart + setupTimeout
            if now >= setupDeadline { return .close(.setupTimedOut(setupTimeout)) }
            if now >= idleDeadline { return .close(.idle(idleTimeout)) }
            return .open(until: min(setupDeadline, idleDeadline))
        }
        if now >= idleDeadline { return .close(.idle(idleTimeout)) }
        return .open(until: idleDeadline)
    }
}
