import Foundation
import LiveMedia
import MediaFormats
import Logging
import Testing

@Suite("Broadcast registry")
struct BroadcastRegistryTests {
    static func registry(grace: Duration = .milliseconds(200)) -> BroadcastRegistry {
        BroadcastRegistry(configuration: HLSConfiguration(), gracePeriod: grace, logger: Logger(label: "test"))
    }

    static func started(_ outcome: BroadcastRegistry.PublishOutcome) -> Broadcast? {
        if case let .started(broadcast) = outcome { return broadcast }
        return nil
    }

    static func resumed(_ outcome: BroadcastRegistry.PublishOutcome) -> Broadcast? {
        if case let .resumed(broadcast) = outcome { return broadcast }
        return nil
    }

    static func isBusy(_ outcome: BroadcastRegistry.PublishOutcome) -> Bool {
        if case .busy = outcome { return true }
        return false
    }

    /// Waits until `condition` holds, or `limit` passes.
    static func eventually(within limit: Duration = .seconds(3), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    @Test("a second publisher on a live channel is refused")
    func busy() throws {
        let registry = Self.registry()
        let first = try #require(Self.started(registry.beginPublishing(channel: "demo", now: testEpoch)))
        #expect(Self.isBusy(registry.beginPublishing(channel: "demo", now: testEpoch)))
        #expect(registry.broadcast("demo") === first)
        #expect(Self.started(registry.beginPublishing(channel: "other", now: testEpoch)) != nil, "other channels are free")
        #expect(registry.all.count == 2)
    }

    @Test("a publisher that comes back within the grace period resumes the same broadcast, which the old timer leaves alone")
    func resumeWithinGrace() async throws {
        let registry = Self.registry()
        let broadcast = try #require(Self.started(registry.beginPublishing(channel: "demo", now: testEpoch)))
        registry.publisherLeft(broadcast)
        #expect(!broadcast.isLive)
        let again = try #require(Self.resumed(registry.beginPublishing(channel: "demo", now: testEpoch)))
        #expect(again === broadcast)
        #expect(broadcast.isLive)
        try await Task.sleep(for: .milliseconds(500))
        #expect(!broadcast.hasEnded, "the grace timer of the first publisher must not end the resumed broadcast")
        #expect(Self.isBusy(registry.beginPublishing(channel: "demo", now: testEpoch)))
    }

    @Test("after the grace period the broadcast ends, and the next publisher starts a new one")
    func endsAfterGrace() async throws {
        let registry = Self.registry()
        let broadcast = try #require(Self.started(registry.beginPublishing(channel: "demo", now: testEpoch)))
        broadcast.ingest(.videoConfiguration(CodecFixtures.avcHigh720p), now: testEpoch)
        broadcast.ingest(.audioConfiguration(CodecFixtures.aacStereo48k), now: testEpoch)
        for frame in SyntheticStream().frames(seconds: 3) { broadcast.ingest(.frame(frame), now: BroadcastFeed.time(of: frame)) }

        registry.publisherLeft(broadcast)
        #expect(await Self.eventually { broadcast.hasEnded })
        let playlist = MediaPlaylist(try await broadcast.playlist(PlaylistRequest()))
        #expect(playlist.endList)
        let next = try #require(Self.started(registry.beginPublishing(channel: "demo", now: testEpoch)))
        #expect(next !== broadcast)
        #expect(registry.broadcast("demo") === next)
    }

    @Test("a broadcast that never got a frame also ends after the grace period")
    func endsWithoutFrames() async throws {
        let registry = Self.registry()
        let broadcast = try #require(Self.started(registry.beginPublishing(channel: "demo", now: testEpoch)))
        registry.publisherLeft(broadcast)
        #expect(await Self.eventually { broadcast.hasEnded })
        #expect(MediaPlaylist(try await broadcast.playlist(PlaylistRequest())).endList)
    }

    @Test("removing a channel ends its broadcast; endAll ends every one")
    func removeAndEndAll() throws {
        let registry = Self.registry(grace: .seconds(60))
        let removed = try #require(Self.started(registry.beginPublishing(channel: "gone", now: testEpoch)))
        let kept = try #require(Self.started(registry.beginPublishing(channel: "kept", now: testEpoch)))
        registry.remove("gone")
        #expect(removed.hasEnded)
        #expect(registry.broadcast("gone") == nil)
        #expect(!kept.hasEnded)
        registry.endAll()
        #expect(kept.hasEnded)
    }
}
