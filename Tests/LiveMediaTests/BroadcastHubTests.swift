import Foundation
import LiveMedia
import MediaFormats
import NIOCore
import Synchronization
import Testing

/// A consumer with a bounded queue that only the test drains.
final class QueuedSubscriber: BroadcastSubscriber {
    let overflowPolicy: BroadcastOverflowPolicy
    let capacity: Int
    private let queue = Mutex<[BroadcastDelivery]>([])
    private let reason = Mutex<BroadcastDetachReason?>(nil)

    init(capacity: Int, policy: BroadcastOverflowPolicy) {
        self.capacity = capacity
        self.overflowPolicy = policy
    }

    func receive(_ delivery: BroadcastDelivery) -> BroadcastReceipt {
        queue.withLock { queue in
            guard queue.count < capacity else { return .full }
            queue.append(delivery)
            return .accepted
        }
    }

    func detached(_ reason: BroadcastDetachReason) {
        self.reason.withLock { $0 = $0 ?? reason }
    }

    func drain() -> [BroadcastDelivery] {
        queue.withLock { queue in
            defer { queue.removeAll() }
            return queue
        }
    }

    var detachReason: BroadcastDetachReason? { reason.withLock { $0 } }
}

extension [BroadcastDelivery] {
    var frames: [MediaFrame] {
        compactMap { if case let .frame(frame, _) = $0 { frame } else { nil } }
    }
}

@Suite("Broadcast hub")
struct BroadcastHubTests {
    @Test("consumers that never drain are handled by their policies and delay neither ingest nor the others")
    func stalledConsumers() async throws {
        var feed = try BroadcastFeed()
        let dropped = QueuedSubscriber(capacity: 16, policy: .dropSubscriber)
        let skipper = QueuedSubscriber(capacity: 16, policy: .skipToKeyframe)
        feed.broadcast.attach(dropped)
        feed.broadcast.attach(skipper)
        let frames = SyntheticStream().frames(seconds: 12)
        let (first, rest) = frames.split(at: 1.5)
        feed.ingest(first)

        // Two WebSocket viewers: one never reads a fragment, one reads everything once the broadcast is over.
        let stuckViewer = feed.broadcast.subscribeLive(bufferLimit: 8)
        let viewer = feed.broadcast.subscribeLive()
        let chunksBefore = feed.reference.events.count
        let (middle, tail) = Array(rest).split(at: 5)
        feed.ingest(middle)

        // The skipping consumer filled its queue long ago; once it drains, it is given frames again from a keyframe.
        let beforeGap = skipper.drain()
        #expect(beforeGap.count == 16)
        let lastBeforeGap = try #require(beforeGap.frames.last)
        feed.ingest(tail)
        #expect(feed.broadcast.end())

        // Dropped at its first full queue, holding what it had taken: the configuration and 15 frames.
        #expect(dropped.detachReason == .fellBehind)
        let held = dropped.drain()
        #expect(held.count == 16)
        #expect(held.frames.count == 15)

        // The skipper resumed at the first keyframe after it drained, more than a second of media later.
        let afterGap = skipper.drain()
        let resumed = try #require(afterGap.frames.first)
        #expect(resumed.track == .video && resumed.isKeyframe)
        #expect(resumed.dts - lastBeforeGap.dts > 90_000)
        #expect(afterGap.count == 16 && afterGap.frames.count == 16, "it filled its queue with frames again")
        #expect(skipper.detachReason == .ended)

        // The LL-HLS rendition packaged every frame: its playlist is the reference packager's, ended.
        let playlist = try await feed.broadcast.playlist(PlaylistRequest())
        feed.reference.events += feed.reference.packager.end()
        #expect(playlist == feed.reference.packager.renderMediaPlaylist())
        #expect(playlist.contains("#EXT-X-ENDLIST"))

        // The stuck viewer was dropped with its queue full; the other got every chunk packaged while it watched.
        var stuck = 0
        for await _ in stuckViewer { stuck += 1 }
        #expect(stuck == 8)
        var media: [ByteBuffer] = []
        for await fragment in viewer {
            if case let .media(bytes) = fragment { media.append(bytes) }
        }
        let packaged = feed.reference.events[chunksBefore...].compactMap { event -> ByteBuffer? in
            if case let .chunk(_, _, bytes) = event { bytes } else { nil }
        }
        #expect(packaged.count > 300)
        #expect(Array(media.suffix(packaged.count)) == packaged)
    }

    @Test("a consumer attached to a live broadcast hears the codecs at once and starts at the next keyframe; detach is final")
    func lateConsumer() throws {
        var feed = try BroadcastFeed()
        let frames = SyntheticStream().frames(seconds: 4)
        let (first, rest) = frames.split(at: 1.2)
        feed.ingest(first)
        let late = QueuedSubscriber(capacity: 1000, policy: .dropSubscriber)
        let id = feed.broadcast.attach(late)
        feed.ingest(rest.prefix(100))
        let got = late.drain()
        guard case let .configure(video, audio, clock) = got.first else {
            Issue.record("the first delivery is the configuration")
            return
        }
        #expect(video != nil && audio != nil)
        #expect(clock == feed.broadcast.streamClock)
        let start = try #require(got.frames.first)
        #expect(start.track == .video && start.isKeyframe)
        #expect(start.dts == 2 * 90_000, "the keyframe after 1.2 s is the one at 2 s")
        feed.broadcast.detach(id)
        #expect(late.detachReason == .left)
        feed.ingest(rest.dropFirst(100))
        #expect(late.drain().isEmpty)
    }
}
