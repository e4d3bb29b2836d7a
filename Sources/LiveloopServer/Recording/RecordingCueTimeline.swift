import Foundation
import Interaction
import LiveMedia

/// The room's cue timeline with the recorder listening in: every cue written into a live video is also kept for the
/// channel's recording, so its VOD playlist carries the same `EXT-X-DATERANGE`s.
struct RecordingCueTimeline: CueTimeline {
    let live: any CueTimeline
    let recordings: Recordings

    func stamp(channel: String, at date: Date) -> CueStamp? {
        live.stamp(channel: channel, at: date)
    }

    func publish(channel: String, cue: CueStamp, id: String, kind: String, attributes: [String: String], payload: [UInt8]) {
        live.publish(channel: channel, cue: cue, id: id, kind: kind, attributes: attributes, payload: payload)
        recordings.cue(channel: channel, RecordedCue(id: id, kind: kind, mediaTime: cue.mediaTime,
                                                     programDate: Double(cue.at.unixMilliseconds), attributes: attributes))
    }
}
