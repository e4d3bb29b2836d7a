import Foundation
import MediaFormats

/// The state machine at the middle of a broadcast: ingest events and subscriber changes in, deliveries out.
///
/// It holds what belongs to the broadcast itself — the codecs, the stream clock, the timeline that places each
/// publisher's frames, the publisher's comings and goings, the ingest statistics — and a table of subscribers with
/// their overflow policies. It owns no consumer: packaging, muxing and writing happen in the subscribers, each on its
/// own queue. No I/O, no clock reads (every instant is an argument), no locks: ``Broadcast`` is the shell that feeds
/// it and performs its actions.
///
/// Rules:
/// - codecs take effect at a video keyframe, or for an audio-only stream once 50 audio frames came with no video
///   configuration; each subscriber hears ``BroadcastDelivery/configure(video:audio:clock:)`` before that frame;
/// - frames before the first configuration, and frames after the end, go to nobody;
/// - a subscriber that joins a configured broadcast gets the configuration at once and frames from the next keyframe;
/// - a full subscriber is detached (`dropSubscriber`) or skips to the next keyframe (`skipToKeyframe`); ingest never
///   waits for one.
public struct BroadcastCore: Sendable {
    public enum Action: Sendable {
        case deliver(BroadcastDelivery, to: BroadcastSubscriberID)
        case detach(BroadcastSubscriberID, BroadcastDetachReason)
        case log(Log)
    }

    /// Lines worth a log, with what the shell needs to write them.
    public enum Log: Sendable, Equatable {
        case badVideoConfiguration(String)
        case badAudioConfiguration(String)
        /// At most one every ``jumpLogInterval`` seconds, however often a publisher jumps.
        case timestampJump
    }

    struct Subscription: Sendable {
        var id: BroadcastSubscriberID
        var policy: BroadcastOverflowPolicy
        /// Frames are withheld until the next keyframe (a late join, or the `skipToKeyframe` policy after a full queue).
        var awaitingKeyframe: Bool
    }

    public static let jumpLogInterval = 10.0
    /// Audio frames after which an audio-only stream (no video configuration) starts.
    static let audioOnlyAfter = 50

    public let startedAt: Date
    private var video: AVCDecoderConfiguration?
    private var audio: AudioSpecificConfig?
    private var codecsChanged = false
    private var framesWithoutVideoConfig = 0
    /// The codecs subscribers were last told, once the stream has started.
    private var effective: (video: AVCDecoderConfiguration?, audio: AudioSpecificConfig?)?
    public private(set) var clock: StreamClock?
    private var timeline: MediaTimeline
    private var frameInterval = FrameInterval()
    private var lastJumpLogged: Date?
    public private(set) var publisherConnected = true
    public private(set) var publisherGeneration = 0
    public private(set) var ended = false
    public private(set) var stats = IngestStats()
    public private(set) var metadata: [String: String] = [:]
    private var subscriptions: [Subscription] = []
    private var nextSubscriberID = 0
    /// The last decode time relayed on each track (a relayed broadcast's frames are not placed by the timeline).
    private var relayLastDTS: [MediaFrame.Track: Int64] = [:]

    public init(startedAt: Date, jumpThreshold: Double) {
        self.startedAt = startedAt
        self.timeline = MediaTimeline(jumpThreshold: jumpThreshold)
    }

    public var subscriberCount: Int { subscriptions.count }
    /// Whether frames reach subscribers: the stream has its first configuration.
    public var isStarted: Bool { effective != nil }

    // MARK: Ingest

    public mutating func ingest(_ event: IngestEvent, now: Date) -> [Action] {
        switch event {
        case let .videoConfiguration(record):
            do {
                let config = try AVCDecoderConfiguration(record: record)
                if config != video { codecsChanged = true }
                video = config
                return []
            } catch {
                return [.log(.badVideoConfiguration("\(error)"))]
            }
        case let .audioConfiguration(bytes):
            do {
                let config = try AudioSpecificConfig(bytes: bytes)
                if config != audio { codecsChanged = true }
                audio = config
                return []
            } catch {
                return [.log(.badAudioConfiguration("\(error)"))]
            }
        case let .metadata(values):
            metadata = values
            return []
        case let .frame(frame):
            return ingest(frame, now: now)
        }
    }

    private mutating func ingest(_ frame: MediaFrame, now: Date) -> [Action] {
        stats.record(frame, at: now)
        guard !ended else { return [] }
        var actions: [Action] = []
        if frame.track == .audio, video == nil { framesWithoutVideoConfig += 1 }
        let canConfigure = (frame.track == .video && frame.isKeyframe && video != nil)
            || (video == nil && audio != nil && framesWithoutVideoConfig > Self.audioOnlyAfter)
        if codecsChanged, canConfigure {
            codecsChanged = false
            let clock = self.clock ?? StreamClock(anchorMediaTime: 0, anchorWallClock: now)
            self.clock = clock
            effective = (video, audio)
            for subscription in subscriptions {
                actions.append(.deliver(.configure(video: video, audio: audio, clock: clock), to: subscription.id))
            }
        }
        guard let clock, let effective else { return actions }
        let placement = timeline.place(frame, now: clock.mediaTime(at: now), frameDuration: frameInterval.estimate)
        guard case let .placed(placed, afterJump) = placement else { return actions }
        if placed.track == .video { frameInterval.observe(placed.dts) }
        if afterJump, lastJumpLogged.map({ now.timeIntervalSince($0) >= Self.jumpLogInterval }) ?? true {
            lastJumpLogged = now
            actions.append(.log(.timestampJump))
        }
        // Where a decoder can start: a video keyframe, or any frame of an audio-only stream.
        let resumes = effective.video == nil || (placed.track == .video && placed.isKeyframe)
        for index in subscriptions.indices {
            if subscriptions[index].awaitingKeyframe {
                guard resumes else { continue }
                subscriptions[index].awaitingKeyframe = false
            }
            actions.append(.deliver(.frame(placed, afterJump: afterJump), to: subscriptions[index].id))
        }
        return actions
    }

    // MARK: Relay

    /// A relayed broadcast (another node's, pulled over the cluster, docs/cluster.md) takes the origin's codecs and its
    /// stream clock, so program dates and cue media times are the same on every node. Before the next keyframe, like
    /// a publisher's configuration; a second clock (the origin's broadcast restarted) is ignored for this one.
    public mutating func relayConfigure(video: AVCDecoderConfiguration?, audio: AudioSpecificConfig?, clock: StreamClock) {
        if !publisherConnected, !ended { publisherBack() }
        if self.clock == nil { self.clock = clock }
        if video != self.video || audio != self.audio { codecsChanged = true }
        self.video = video
        self.audio = audio
    }

    /// One relayed frame, already on the origin's timeline: delivered as it is (a frame going backwards on its track
    /// is dropped, as the timeline would), `afterJump` as the origin said.
    public mutating func relayFrame(_ frame: MediaFrame, afterJump: Bool, now: Date) -> [Action] {
        stats.record(frame, at: now)
        guard !ended, clock != nil else { return [] }
        var actions: [Action] = []
        let canConfigure = (frame.track == .video && frame.isKeyframe && video != nil) || video == nil
        if codecsChanged, canConfigure, let clock {
            codecsChanged = false
            effective = (video, audio)
            for subscription in subscriptions {
                actions.append(.deliver(.configure(video: video, audio: audio, clock: clock), to: subscription.id))
            }
        }
        guard let effective else { return actions }
        if let last = relayLastDTS[frame.track], frame.dts < last, !afterJump { return actions }
        relayLastDTS[frame.track] = frame.dts
        let resumes = effective.video == nil || (frame.track == .video && frame.isKeyframe)
        for index in subscriptions.indices {
            if subscriptions[index].awaitingKeyframe {
                guard resumes else { continue }
                subscriptions[index].awaitingKeyframe = false
            }
            actions.append(.deliver(.frame(frame, afterJump: afterJump), to: subscriptions[index].id))
        }
        return actions
    }

    /// A publisher here takes the relayed broadcast over: its frames are placed after the last relayed one.
    public mutating func takeOverRelay() {
        if let last = relayLastDTS.values.max() { timeline.continueAfter(last) }
        relayLastDTS = [:]
        publisherBack()
    }

    // MARK: Publisher

    /// The publisher's connection closed. Returns the generation `end(ifGeneration:)` checks, so a grace timer never
    /// ends a broadcast whose publisher came back.
    public mutating func publisherLost() -> (generation: Int, actions: [Action]) {
        publisherConnected = false
        timeline.reanchor()
        stats.reset()
        guard !ended else { return (publisherGeneration, []) }
        return (publisherGeneration, subscriptions.map { .deliver(.interrupt, to: $0.id) })
    }

    /// A publisher took the channel again within the grace period: the codecs are announced again at its first
    /// keyframe, and its frames continue the timeline.
    public mutating func publisherBack() {
        publisherConnected = true
        publisherGeneration += 1
        codecsChanged = true
    }

    /// Ends the broadcast unless a publisher came back since `generation`: every subscriber gets ``BroadcastDelivery/end``
    /// and is detached. Nil (and nothing changes) when refused.
    public mutating func end(ifGeneration generation: Int? = nil) -> [Action]? {
        if let generation, generation != publisherGeneration || publisherConnected { return nil }
        publisherConnected = false
        ended = true
        let actions = subscriptions.flatMap { [Action.deliver(.end, to: $0.id), .detach($0.id, .ended)] }
        subscriptions.removeAll()
        return actions
    }

    // MARK: Subscribers

    /// Adds a subscriber. On a started broadcast it hears the configuration at once and gets frames from the next
    /// keyframe; on an ended one it is detached at once.
    public mutating func subscribe(policy: BroadcastOverflowPolicy) -> (BroadcastSubscriberID, [Action]) {
        let id = BroadcastSubscriberID(number: nextSubscriberID)
        nextSubscriberID += 1
        if ended { return (id, [.detach(id, .ended)]) }
        var actions: [Action] = []
        if let clock, let effective {
            actions.append(.deliver(.configure(video: effective.video, audio: effective.audio, clock: clock), to: id))
        }
        subscriptions.append(Subscription(id: id, policy: policy, awaitingKeyframe: effective != nil))
        return (id, actions)
    }

    public mutating func unsubscribe(_ id: BroadcastSubscriberID) -> [Action] {
        guard let index = subscriptions.firstIndex(where: { $0.id == id }) else { return [] }
        subscriptions.remove(at: index)
        return [.detach(id, .left)]
    }

    /// A subscriber said `.full` to a delivery: its policy decides.
    public mutating func overflowed(_ id: BroadcastSubscriberID) -> [Action] {
        guard let index = subscriptions.firstIndex(where: { $0.id == id }) else { return [] }
        switch subscriptions[index].policy {
        case .dropSubscriber, .neverFull:
            // A subscriber that promised never to be full and was is dropped too: nothing may hold ingest back.
            subscriptions.remove(at: index)
            return [.detach(id, .fellBehind)]
        case .skipToKeyframe:
            subscriptions[index].awaitingKeyframe = true
            return []
        }
    }
}

/// The running estimate of a video frame's duration (90 kHz) from decode-time steps: RTMP's millisecond timestamps
/// make 30 fps alternate 33/34 ms, and the average is the step a re-anchored track takes.
struct FrameInterval: Sendable {
    private(set) var estimate: Int64 = 3000
    private var last: Int64?
    private var steps = 0

    mutating func observe(_ dts: Int64) {
        if let last, dts > last {
            let delta = dts - last
            estimate = steps < 2 ? delta : (estimate * 7 + delta + 4) / 8
            steps += 1
        }
        last = dts
    }
}
