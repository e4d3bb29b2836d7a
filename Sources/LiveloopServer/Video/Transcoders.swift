import Foundation
import LiveMedia
import Logging
import Storage
import Synchronization

/// Starts and stops each live channel's ``ChannelTranscoder``: when a channel whose settings list renditions goes
/// live, when its ladder changes through the API while it is live (the old ffmpeg stops, a new one starts with the new
/// ladder; renditions in both go on), and when the broadcast ends. A channel without renditions starts no ffmpeg.
/// Where no `ffmpeg` is installed the server says so once and serves the source alone.
public final class Transcoders: Sendable {
    private let registry: BroadcastRegistry
    private let video: ChannelVideo
    private let logger: Logger
    private let ffmpeg: String?
    private let running = Mutex<[String: ChannelTranscoder]>([:])
    private let warnedMissing = Atomic<Bool>(false)

    init(registry: BroadcastRegistry, video: ChannelVideo, logger: Logger) {
        self.registry = registry
        self.video = video
        self.logger = logger
        // A write to the pipe of an ffmpeg that just exited must fail with EPIPE, not end the server.
        signal(SIGPIPE, SIG_IGN)
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        ffmpeg = paths.map { "\($0)/ffmpeg" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        registry.observe { [weak self] event in
            switch event {
            case let .started(channel, _):
                Task { await self?.refresh(channel) }
            case let .ended(channel, _):
                self?.stop(channel)
            }
        }
        video.observe { [weak self] channel, settings in
            self?.apply(settings.renditions, channel: channel)
        }
    }

    /// The process id of a channel's running ffmpeg, if any.
    public func pid(channel: String) -> Int32? { running.withLock { $0[channel] }?.pid }

    /// How many times a channel's current transcoder started ffmpeg.
    public func starts(channel: String) -> Int { running.withLock { $0[channel] }?.starts ?? 0 }

    /// Stops every transcoder (shutdown).
    public func stopAll() {
        for transcoder in running.withLock({ running in defer { running.removeAll() }; return Array(running.values) }) {
            transcoder.stop()
        }
    }

    private func refresh(_ channel: String) async {
        guard let names = try? await video.settings(channel: channel).renditions else { return }
        apply(names, channel: channel)
    }

    private func apply(_ names: [String], channel: String) {
        // A relayed broadcast's renditions are made on its origin node, not here.
        guard let broadcast = registry.broadcast(channel), !broadcast.hasEnded, broadcast.relayedFrom == nil else { return }
        let presets = (try? RenditionPreset.ladder(names).get()) ?? []
        let previous = running.withLock { running -> ChannelTranscoder? in
            guard running[channel]?.presets != presets else { return nil }
            return running.removeValue(forKey: channel)
        }
        if let previous { previous.stop() }
        if presets.isEmpty {
            broadcast.setRenditions([])
            return
        }
        guard previous != nil || running.withLock({ $0[channel] == nil }) else { return }
        guard let ffmpeg else {
            if !warnedMissing.exchange(true, ordering: .relaxed) {
                logger.warning("ffmpeg is not installed: channels are served without their renditions", metadata: ["channel": "\(channel)"])
            }
            return
        }
        let transcoder = ChannelTranscoder(channel: channel, broadcast: broadcast, presets: presets, ffmpeg: ffmpeg, logger: logger)
        let started = running.withLock { running -> Bool in
            guard running[channel] == nil else { return false }
            running[channel] = transcoder
            return true
        }
        if started {
            logger.info("transcoding renditions", metadata: ["channel": "\(channel)", "renditions": "\(presets.map(\.name).joined(separator: ","))"])
            transcoder.start()
        }
    }

    private func stop(_ channel: String) {
        running.withLock { $0.removeValue(forKey: channel) }?.stop()
    }
}
