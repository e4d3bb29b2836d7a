import Foundation
import LiveMedia
import Storage
import Synchronization

/// Reads and changes channels' video settings, and tells whoever acts on them (the transcoder, the recorder) when an
/// API call changed one, so a live channel follows at once. A change made by the CLI while the server runs takes effect
/// at the channel's next broadcast: each publish reads the settings (``prepare(channel:)``) before its broadcast
/// starts, so what acts at the start finds them in memory (``whenKnown(channel:_:)``), with no database read there.
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

    private let store: any Store
    private let observers = Mutex<[Observer]>([])
    /// The settings last read or saved, per channel (emptied past `maximumCached`).
    private let cached = Mutex<[String: ChannelVideoSettings]>([:])
    static let maximumCached = 10_000

    public init(store: any Store) {
        self.store = store
    }

    public func settings(channel: String) async throws -> ChannelVideoSettings {
        let settings = try await store.videoSettings(channel: channel)
        remember(settings, channel: channel)
        return settings
    }

    /// Reads the channel's settings into memory (before its broadcast starts); an unreadable store leaves the defaults.
    public func prepare(channel: String) async {
        remember((try? await store.videoSettings(channel: channel)) ?? ChannelVideoSettings(), channel: channel)
    }

    /// Calls `body` with the channel's settings: at once when they are in memory, else once they are read (the
    /// defaults when the store cannot be read).
    public func whenKnown(channel: String, _ body: @escaping @Sendable (ChannelVideoSettings) -> Void) {
        if let known = cached.withLock({ $0[channel] }) {
            body(known)
            return
        }
        Task {
            await prepare(channel: channel)
            body(cached.withLock { $0[channel] } ?? ChannelVideoSettings())
        }
    }

    private func remember(_ settings: ChannelVideoSettings, channel: String) {
        cached.withLock { table in
            if table.count >= Self.maximumCached, table[channel] == nil { table.removeAll() }
            table[channel] = settings
        }
    }

    /// Validates and saves `change`, returns the settings now in force and tells every observer.
    @discardableResult
    /// Throws `RenditionPreset.LadderError` for a bad ladder, `StoreError.channelNotFound` for a missing channel.
    public func apply(_ change: Change, channel: String) async throws -> ChannelVideoSettings {
        let updated = try await Self.applying(change, to: store.videoSettings(channel: channel))
        try await store.saveVideoSettings(channel: channel, updated)
        remember(updated, channel: channel)
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
