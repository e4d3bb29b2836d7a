/// Where a host action sits on the video's timeline: the moment of the broadcast the host was in when they acted.
///
/// On the wire, in the envelope of the messages the action produced: `"cue":{"at":1732450000123,"mediaTime":812.345}`.
/// A client applies such a message when its playhead's program date reaches `at` — never before — so every viewer
/// sees the poll when they hear the host ask it, whatever their latency. The same cue is written into the video
/// (`EXT-X-DATERANGE`, `emsg`) with the same media time.
public struct CueStamp: Sendable, Hashable, Codable {
    /// The program date of the moment: the server's wall clock when that media was ingested (what
    /// `EXT-X-PROGRAM-DATE-TIME` and the WebSocket stream clock map media time to).
    public var at: Timestamp
    /// The same moment in seconds of the broadcast's media time.
    public var mediaTime: Double

    public init(at: Timestamp, mediaTime: Double) {
        self.at = at
        self.mediaTime = mediaTime
    }

    /// The moment `duration` later on the same timeline (e.g. a poll's window end, from its launch).
    public func advanced(by duration: Duration) -> CueStamp {
        CueStamp(at: at + duration, mediaTime: mediaTime + Double(duration.wholeMilliseconds) / 1000)
    }
}

/// The latency behind ingest that a channel's players hold, in seconds, per delivery path.
public struct SyncTargets: Sendable, Hashable, Codable {
    /// Players on the WebSocket fMP4 path (`/live/C/ws`).
    public var ws: Double
    /// Players on LL-HLS.
    public var hls: Double

    public init(ws: Double = 0.5, hls: Double = 1.5) {
        self.ws = ws
        self.hls = hls
    }

    /// One value for both paths: everyone in lock-step at the slower path's target.
    public static func lockstep(_ seconds: Double) -> SyncTargets { SyncTargets(ws: seconds, hls: seconds) }
}
