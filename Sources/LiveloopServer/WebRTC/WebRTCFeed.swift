import LiveMedia
import MediaFormats
import NIOCore
import Synchronization

/// One live broadcast's video for its WHEP viewers: a broadcast subscriber that hands each delivery to the WebRTC
/// event loop, where ``WebRTCHub`` packetizes it once and protects it per viewer.
///
/// Parked while the channel has no WHEP session: deliveries stay here instead of hopping to the WebRTC loop (no wakeup,
/// no packetizing a frame nobody receives). The parked state keeps what a first viewer needs: the latest configuration
/// and the video from the last keyframe on (bounded by ``WebRTCHub/gopLimits``; past it, the rest until the next
/// keyframe is dropped). Audio is dropped: it goes only to an Opus transcoder, which runs only for viewers. The hub
/// ``unpark()``s the feed on its loop when a session arrives and replays what was kept, in order, before any later
/// delivery, and ``park()``s it when the last one leaves.
///
/// Policy when forwarding: skip to the next keyframe. Deliveries wait in the event loop's queue, at most
/// ``queueLimit`` at a time; one more is refused (`.full`) and the broadcast withholds frames until the next keyframe,
/// so a stalled loop costs viewers a stretch of video, never memory or the ingest's time.
final class WebRTCFeed: BroadcastSubscriber {
    static let queueLimit = 256

    /// What a parked feed kept for the first viewer.
    struct Parked {
        var configure: BroadcastDelivery?
        var frames: [BroadcastDelivery] = []
        var bytes = 0
        /// The kept frames do not continue what the hub last saw: it starts its keyframe group afresh.
        var resetGOP = false
        /// Over the limits: frames are dropped until the next keyframe.
        var overflowed = false

        var deliveries: [BroadcastDelivery] { (configure.map { [$0] } ?? []) + frames }
    }

    enum Mode {
        case parked(Parked)
        case forwarding
    }

    let channel: String
    let broadcastID: ObjectIdentifier
    private let hub: WebRTCHub
    private let pending = Atomic<Int>(0)
    private let mode = Mutex(Mode.parked(Parked()))
    private let bFrames = Atomic<Bool>(false)
    private let videoFrames = Atomic<Int>(0)

    /// Video frames a WHEP answer waits for at a broadcast's start, so that ``sawBFrames`` means something.
    static let framesBeforeAnswer = 3

    /// Video frames that came by since the feed attached, counted up to ``framesBeforeAnswer``.
    var videoFramesSeen: Int { videoFrames.load(ordering: .relaxed) }

    /// Whether a video frame with B-frame reordering (presentation time ≠ decode time) has come by, parked or not,
    /// since the feed attached at the broadcast's start.
    var sawBFrames: Bool { bFrames.load(ordering: .relaxed) }

    init(channel: String, broadcastID: ObjectIdentifier, hub: WebRTCHub) {
        self.channel = channel
        self.broadcastID = broadcastID
        self.hub = hub
    }

    var overflowPolicy: BroadcastOverflowPolicy { .skipToKeyframe }

    func receive(_ delivery: BroadcastDelivery) -> BroadcastReceipt {
        if case let .frame(frame, _) = delivery, frame.track == .video {
            if frame.pts != frame.dts, !sawBFrames { bFrames.store(true, ordering: .relaxed) }
            if videoFramesSeen < Self.framesBeforeAnswer { videoFrames.add(1, ordering: .relaxed) }
        }
        let forward = mode.withLock { mode -> Bool in
            guard case var .parked(parked) = mode else { return true }
            switch Self.keep(delivery, in: &parked) {
            case .kept:
                mode = .parked(parked)
                return false
            case .forward:
                return true
            }
        }
        guard forward else { return .accepted }
        guard pending.add(1, ordering: .relaxed).newValue <= Self.queueLimit else {
            pending.subtract(1, ordering: .relaxed)
            return .full
        }
        let hub = hub
        hub.loop.execute { [self] in
            pending.subtract(1, ordering: .relaxed)
            hub.deliver(delivery, from: self)
        }
        return .accepted
    }

    enum Keeping { case kept, forward }

    /// What a parked feed does with one delivery: the end still goes to the hub (it closes the feed); the rest is
    /// kept or dropped here.
    static func keep(_ delivery: BroadcastDelivery, in parked: inout Parked) -> Keeping {
        switch delivery {
        case .configure:
            parked = Parked(configure: delivery, resetGOP: true)
        case let .frame(frame, _):
            guard frame.track == .video else { break }
            if frame.isKeyframe {
                parked.frames = [delivery]
                parked.bytes = frame.data.readableBytes
                parked.resetGOP = true
                parked.overflowed = false
            } else if !parked.overflowed {
                if parked.frames.count < WebRTCHub.gopLimits.units, parked.bytes + frame.data.readableBytes <= WebRTCHub.gopLimits.bytes {
                    parked.frames.append(delivery)
                    parked.bytes += frame.data.readableBytes
                } else {
                    parked.frames = []
                    parked.bytes = 0
                    parked.resetGOP = true
                    parked.overflowed = true
                }
            }
        case .interrupt:
            break
        case .end:
            return .forward
        }
        return .kept
    }

    /// On the hub's loop, when the channel gets its first session: what was kept, and from now on every delivery hops.
    func unpark() -> Parked? {
        mode.withLock { mode in
            guard case let .parked(parked) = mode else { return nil }
            mode = .forwarding
            return parked
        }
    }

    /// On the hub's loop, when the channel's last session leaves. Deliveries already queued on the loop still arrive
    /// before anything kept from now on, so what is kept continues the hub's keyframe group.
    func park() {
        mode.withLock { mode in
            guard case .forwarding = mode else { return }
            mode = .parked(Parked())
        }
    }

    func detached(_ reason: BroadcastDetachReason) {
        let hub = hub
        hub.loop.execute { [self] in hub.feedDetached(self) }
    }
}
