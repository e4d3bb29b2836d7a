/// A message from the room to some of its connections, stamped with the room's sequence number.
///
/// `seq` increases strictly with every broadcast of a room (gaps are normal: a client sees only its audience's
/// messages). `replayable` broadcasts are kept in the bounded history for `Room.resume`; transient ones (tallies,
/// reaction counts, viewer counts, personal standings) are not, since the next tick or the snapshot supersedes them.
public struct RoomBroadcast: Sendable, Hashable {
    /// Who receives a broadcast.
    public enum Audience: Sendable, Hashable, Codable {
        /// Every connection of the room.
        case everyone
        /// Moderators and hosts.
        case staff
        /// The connections of one user (`sub`): e.g. a shadow-banned author's own message.
        case only(String)
        /// Staff and one user (e.g. a question waiting for approval, seen by staff and its asker).
        case staffAnd(String)

        /// Whether `identity` is in this audience.
        public func includes(_ identity: Identity) -> Bool {
            switch self {
            case .everyone: true
            case .staff: identity.role.isStaff
            case .only(let sub): identity.sub == sub
            case .staffAnd(let sub): identity.role.isStaff || identity.sub == sub
            }
        }
    }

    public var seq: UInt64
    public var audience: Audience
    public var message: ServerMessage
    public var replayable: Bool
    /// The host action's place on the video timeline; viewers get the message shortly before their playhead gets
    /// there (the server holds it until then, so results are never early), staff at once.
    public var cue: CueStamp?

    public init(seq: UInt64, audience: Audience, message: ServerMessage, replayable: Bool, cue: CueStamp? = nil) {
        self.seq = seq
        self.audience = audience
        self.message = message
        self.replayable = replayable
        self.cue = cue
    }

    /// The frame to send: the message with its `seq` and cue.
    public var envelope: ServerEnvelope { ServerEnvelope(seq: seq, cue: cue, message) }
}
