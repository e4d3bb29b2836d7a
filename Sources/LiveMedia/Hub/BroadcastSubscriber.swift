import MediaFormats

/// What the broadcast hands each subscriber, in order: media on the broadcast's timeline, never a protocol's types.
public enum BroadcastDelivery: Sendable {
    /// The codecs from this point on, with the stream clock (anchored once, at the broadcast's first configuration).
    /// Comes before the first frame a subscriber gets, and again (at a video keyframe) when the codecs change or a
    /// publisher came back.
    case configure(video: AVCDecoderConfiguration?, audio: AudioSpecificConfig?, clock: StreamClock)
    /// One frame, timestamps already on the broadcast's timeline. `afterJump`: the publisher's timestamps jumped
    /// before it, so what a subscriber has open should close and what follows comes after a discontinuity.
    case frame(MediaFrame, afterJump: Bool)
    /// The publisher went away: close what is open; the next frames follow a discontinuity.
    case interrupt
    /// The broadcast is over; nothing follows.
    case end
}

/// Whether a subscriber took a delivery.
public enum BroadcastReceipt: Sendable, Equatable {
    case accepted
    /// Its queue is full: the delivery was not taken, and the broadcast applies the subscriber's ``BroadcastOverflowPolicy``.
    case full
}

/// What the broadcast does with a subscriber whose queue is full. Ingest never waits for a subscriber.
public enum BroadcastOverflowPolicy: Sendable, Equatable {
    /// The subscriber is detached (``BroadcastDetachReason/fellBehind``): a viewer that cannot keep up is closed.
    case dropSubscriber
    /// Frames are withheld from the subscriber until the next video keyframe (any frame of an audio-only stream),
    /// which it gets first when it takes deliveries again: it loses a stretch of media, never its decoder's footing.
    case skipToKeyframe
    /// The subscriber never reports full: it does bounded in-memory work as each delivery arrives (an HLS packager).
    case neverFull
}

public enum BroadcastDetachReason: Sendable, Equatable {
    /// The broadcast ended (after ``BroadcastDelivery/end``).
    case ended
    /// Its queue was full and its policy is ``BroadcastOverflowPolicy/dropSubscriber``.
    case fellBehind
    /// It asked to leave (``Broadcast/detach(_:)``).
    case left
}

/// A consumer of a broadcast: an HLS rendition, a recorder, a relay, a transcoder's input. Each has its own bounded
/// queue (or does bounded work inline) and states its policy when full.
///
/// `receive` is called on the ingest's thread, one delivery at a time and in order, while the broadcast's hub lock is
/// held: it must not block, wait or call back into the broadcast. It takes the delivery into its queue, or says
/// `.full` and lets its policy apply. `detached` is called once, last, also under that lock.
public protocol BroadcastSubscriber: AnyObject, Sendable {
    var overflowPolicy: BroadcastOverflowPolicy { get }
    func receive(_ delivery: BroadcastDelivery) -> BroadcastReceipt
    func detached(_ reason: BroadcastDetachReason)
}

/// A subscriber's handle in one broadcast.
public struct BroadcastSubscriberID: Hashable, Sendable, Comparable {
    /// Handed out in order of subscription, from 0.
    public let number: Int

    public static func < (a: Self, b: Self) -> Bool { a.number < b.number }
}
