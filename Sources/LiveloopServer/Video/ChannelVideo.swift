import Foundation
import LiveMedia
import Storage
import Synchronization

/// Reads and changes channels' video settings, and tells whoever acts on them (the transcoder, the recorder) when an
/// API call changed one, so a live channel follows at once. A change made by the CLI while the server runs takes effect
/// at the channel's next broadcast.
public final class ChannelVideo: Sendable {
    public typealias Observer = @Sendable (_ channel: String, _ settings: ChannelVideoSettings) -> Void

    /// A change to apply: fields left nil stay as they are.
    public struct Change: Decodable, Sendable {
        public var renditions: [String]?
        public var record: Bool?

        public init(renditions: [String]? = nil, record: Bool? = nil) {
            self.renditions = renditions
            self.record = record
        }
    }

    private let store: SQLiteStore
    private let observers = Mutex<[Observer]>([])

    public init(store: SQLiteStore) {
        self.store = store
    }

    public func settings(channel: String) throws -> ChannelVideoSettings {
        try store.videoSettings(channel: channel)
    }

    /// Validates and saves `change`, returns the settings now in force and tells every observer.
    @discardableResult
    /// Throws `RenditionPreset.LadderError` for a bad ladder, `StoreError.channelNotFound` for a missing channel.
    public func apply(_ change: Change, channel: String) throws -> ChannelVideoSettings {
        let updated = try Self.applying(change, to: store.videoSettings(channel: channel))
        try store.saveVideoSettings(channel: channel, updated)
        for observer in observers.withLock({ $0 }) { observer(channel, updated) }
        return updated
    }

    /// The settings `change` makes of `current`, its ladder validated and put highest first.
    public static func applying(_ change: Change, to current: ChannelVideoSettings) throws(RenditionPreset.LadderError) -> ChannelVideoSettings {
        var updated = current
        if let names = change.renditions { updated.renditions = try RenditionPreset.ladder(names).get().map(\.name) }
        if let record = change.record { updated.record = record }
        return updated
    }

    /// Calls `observer` after every change made through ``apply(_:channel:)``.
    public func observe(_ observer: @escaping Observer) {
        observers.withLock { $0.append(observer) }
    }
}
