import LiveMedia
import NIOCore
import Synchronization

/// One live broadcast's video for its WHEP viewers: a broadcast subscriber that hands each delivery to the WebRTC
/// event loop, where ``WebRTCHub`` packetizes it once and protects it per viewer.
///
/// Policy: skip to the next keyframe. Deliveries wait in the event loop's queue, at most ``queueLimit`` at a time; one
/// more is refused (`.full`) and the broadcast withholds frames until the next keyframe, so a stalled loop costs
/// viewers a stretch of video, never memory or the ingest's time.
final class WebRTCFeed: BroadcastSubscriber {
    static let queueLimit = 256

    let channel: String
    let broadcastID: ObjectIdentifier
    private let hub: WebRTCHub
    private let pending = Atomic<Int>(0)

    init(channel: String, broadcastID: ObjectIdentifier, hub: WebRTCHub) {
        self.channel = channel
        self.broadcastID = broadcastID
        self.hub = hub
    }

    var overflowPolicy: BroadcastOverflowPolicy { .skipToKeyframe }

    func receive(_ delivery: BroadcastDelivery) -> BroadcastReceipt {
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

    func detached(_ reason: BroadcastDetachReason) {
        let hub = hub
        hub.loop.execute { [self] in hub.feedDetached(self) }
    }
}
