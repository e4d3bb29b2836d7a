extension Room {
    /// The audience analytics counts: open connections of viewers and guests, not of staff.
    public var audience: Int { max(viewers - staffConnections, 0) }

    /// The broadcast the room is sampling its audience for, if one is live.
    public var liveBroadcastID: String? { sampler.broadcastID }

    /// A broadcast of the channel began: records its start and the audience at that moment.
    public mutating func beginBroadcast(_ broadcastID: String, at now: Timestamp) -> RoomUpdate {
        var effects = Effects()
        record(.broadcastStarted(broadcastID: broadcastID, at: now), into: &effects)
        record(.viewerSample(count: audience, at: now), into: &effects)
        return RoomUpdate(records: effects.records)
    }

    /// The broadcast ended at `now`: records the reactions not yet written, the audience, and the end. The end is
    /// recorded even when the room was not sampling for it (a room rebuilt from its log in the meantime).
    public mutating func endBroadcast(_ broadcastID: String, at now: Timestamp) -> RoomUpdate {
        var effects = Effects()
        if sampler.broadcastID == broadcastID {
            if !sampler.pendingReactions.isEmpty {
                record(.reactionsCounted(counts: sampler.pendingReactions, at: now), into: &effects)
            }
            record(.viewerSample(count: audience, at: now), into: &effects)
        }
        record(.broadcastEnded(broadcastID: broadcastID, at: now), into: &effects)
        return RoomUpdate(records: effects.records)
    }

    /// Sets the broadcast the room samples for without writing anything: a room rebuilt from its log learns from the
    /// server whether the broadcast its log left open is still live (`nil`: none is).
    public mutating func adoptBroadcast(_ broadcastID: String?) {
        sampler.broadcastID = broadcastID
    }

    /// The periodic part of sampling, from the tick: the audience and the reaction counts once per interval.
    mutating func sampleAudience(at now: Timestamp, into effects: inout Effects) {
        guard sampler.isDue(at: now, interval: configuration.viewerSampleInterval) else { return }
        if !sampler.pendingReactions.isEmpty {
            record(.reactionsCounted(counts: sampler.pendingReactions, at: now), into: &effects)
        }
        record(.viewerSample(count: audience, at: now), into: &effects)
    }

    /// A poll launch, a quiz question or an offer during a broadcast is followed by the audience at that instant, so
    /// participation and impressions are exact.
    mutating func noteAudienceMoment(of record: Record, into effects: inout Effects) {
        guard sampler.broadcastID != nil else { return }
        switch record {
        case .pollLaunched, .quizQuestionShown, .offerShown:
            self.record(.viewerSample(count: audience, at: record.at), into: &effects)
        default:
            break
        }
    }

    /// Applies and outputs an analytics record (these never fail to apply).
    private mutating func record(_ record: Record, into effects: inout Effects) {
        sampler.apply(record)
        effects.records.append(record)
    }
}
