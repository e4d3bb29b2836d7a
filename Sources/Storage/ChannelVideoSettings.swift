import Foundation

/// What a channel's video does besides the source: the renditions transcoded from it and whether each broadcast is
/// recorded (`liveloop channels set NAME --renditions … --record on|off`, `GET/PUT /api/v1/channels/NAME/video`).
public struct ChannelVideoSettings: Codable, Sendable, Equatable {
    /// Rendition presets made from the source, by name (`720p`, `480p`, …), highest first; empty: the source only.
    public var renditions: [String]
    /// Whether each broadcast of the channel is written to disk as a recording.
    public var record: Bool

    public init(renditions: [String] = [], record: Bool = false) {
        self.renditions = renditions
        self.record = record
    }
}
