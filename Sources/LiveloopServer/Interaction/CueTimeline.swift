import Foundation
import Interaction
import LiveMedia

/// The video side of interaction cues, as a room sees it: where the channel's broadcast is now, and a way to write a
/// cue into the video (EXT-X-DATERANGE, emsg). Nil stamps mean nothing is live: messages then carry no cue and
/// clients apply them at once.
protocol CueTimeline: Sendable {
    /// The moment of `channel`'s broadcast being ingested at `date`, or nil when it is not live.
    func stamp(channel: String, at date: Date) -> CueStamp?
    /// Writes a cue into `channel`'s video.
    func publish(channel: String, cue: CueStamp, id: String, kind: String, attributes: [String: String], payload: [UInt8])
}

/// Cues on the channels' live broadcasts.
struct BroadcastTimeline: CueTimeline {
    let registry: BroadcastRegistry

    func stamp(channel: String, at date: Date) -> CueStamp? {
        guard let broadcast = registry.broadcast(channel), broadcast.isLive,
              let stamp = broadcast.cueStamp(at: date) else { return nil }
        return CueStamp(at: Timestamp(stamp.programDate),
                        mediaTime: Double(stamp.mediaTime) / Double(StreamClock.timescale))
    }

    func publish(channel: String, cue: CueStamp, id: String, kind: String, attributes: [String: String], payload: [UInt8]) {
        guard let broadcast = registry.broadcast(channel) else { return }
        let mediaTime = Int64((cue.mediaTime * Double(StreamClock.timescale)).rounded())
        broadcast.addCue(MediaCue(id: id, kind: kind, mediaTime: mediaTime, programDate: cue.at.date,
                                  attributes: attributes, payload: payload))
    }
}
