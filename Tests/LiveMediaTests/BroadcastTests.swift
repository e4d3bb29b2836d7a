import Foundation
import LiveMedia
import Logging
import MediaFormats
import NIOCore
import Synchronization
import Testing

/// A broadcast fed a synthetic stream, with wall-clock times that follow the media timestamps.
struct BroadcastFeed {
    let broadcast: Broadcast
    /// The same frames through a bare packager: the broadcast's first keyframe lands at media time 0, as this one's
    /// does, so both write the same bytes and this one says what the broadcast must have.
    var reference: PackagingRun

    init(configuration: HLSConfiguration = HLSConfiguration(), channel: String = "demo") throws {
        broadcast = Broadcast(channel: channel, configuration: configuration, startedAt: testEpoch, logger: Logger(label: "test"))
        broadcast.ingest(.videoConfiguration(CodecFixtures.avcHigh720p), now: testEpoch)
        broadcast.ingest(.audioConfiguration(CodecFixtures.aacStereo48k), now: testEpoch)
        reference = PackagingRun(configuration: configuration, muxer: try CodecFixtures.muxer())
    }

    static func time(of frame: MediaFrame) -> Date {
        testEpoch.addingTimeInterval(Double(frame.dts) / Double(StreamClock.timescale))
    }

    mutating func ingest(_ frames: some Sequence<MediaFrame>) {
        for frame in frames {
            broadcast.ingest(.frame(frame), now: Self.time(of: frame))
            reference.append([frame])
        }
    }
}

final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// Reads `stream` to its end, or until `limit` has passed; says which.
func collect(_ stream: AsyncStream<ByteBuffer>, within limit: Duration = .seconds(5)) async -> (chunks: [ByteBuffer], finished: Bool) {
    await withTaskGroup(of: ([ByteBuffer], Bool)?.self) { group in
        group.addTask {
            var chunks: [ByteBuffer] = []
            for await chunk in stream { chunks.append(chunk) }
            return (chunks, !Task.isCancelled)
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        for await result in group {
            if let result {
                group.cancelAll()
                return result
            }
            // Time is up: stop the reader, whose partial result comes next.
            group.cancelAll()
        }
        return ([], false)
    }
}

extension Array where Element == MediaFrame {
    /// The frames before and from `seconds` into the stream.
    func split(at seconds: Double) -> (ArraySlice<MediaFrame>, ArraySlice<MediaFrame>) {
        let index = firstIndex { Double($0.dts) >= seconds * Double(StreamClock.timescale) } ?? count
        return (self[..<index], self[index...])
    }
}

@Suite("Broadcast")
struct BroadcastTests {
    @Test("a playlist request for a segment two ahead of the live edge waits, then returns once frames complete it")
    func blockingReload() async throws {
        var feed = try BroadcastFeed()
        let (first, rest) = SyntheticStream().frames(seconds: 12).split(at: 3)
        feed.ingest(first)
        #expect(feed.reference.packager.liveEdgeSequenceNumber == 1)

        let broadcast = feed.broadcast
        let returned = Flag()
        let request = Task {
            let text = try await broadcast.playlist(PlaylistRequest(msn: 3))
            returned.set()
            return text
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(!returned.isSet, "segment 3 does not exist yet")

        let ingest = Task { [feed] in
            var feed = feed
            for frame in rest {
                feed.ingest([frame])
                await Task.yield()
            }
        }
        let playlist = MediaPlaylist(try await request.value)
        await ingest.value
        #expect(playlist.segments.map(\.uri).contains("seg3.m4s"))
    }

    @Test("a request for a part being written waits until that part is complete")
    func blockingOnPart() async throws {
        var feed = try BroadcastFeed()
        let (first, rest) = SyntheticStream().frames(seconds: 6).split(at: 2.5)
        feed.ingest(first)
        let (msn, part) = try #require(feed.reference.packager.openPartPosition)
        let broadcast = feed.broadcast
        let request = Task { try await broadcast.playlist(PlaylistRequest(msn: msn, part: part)) }
        try await Task.sleep(for: .milliseconds(100))
        feed.ingest(rest)
        let playlist = MediaPlaylist(try await request.value)
        #expect(playlist.allParts.map(\.uri).contains(HLSNames.part(msn, part)))
    }

    @Test("a request already satisfied returns at once, the same playlist the packager renders")
    func satisfiedRequest() async throws {
        var feed = try BroadcastFeed()
        feed.ingest(SyntheticStream().frames(seconds: 5))
        let text = try await feed.broadcast.playlist(PlaylistRequest(msn: 1))
        #expect(text == feed.reference.packager.renderMediaPlaylist())
        let delta = try await feed.broadcast.playlist(PlaylistRequest(skip: true))
        #expect(delta == feed.reference.packager.renderMediaPlaylist(skip: true))
    }

    @Test("a request more than two segments ahead of the live edge is refused at once")
    func tooFarAhead() async throws {
        var feed = try BroadcastFeed()
        feed.ingest(SyntheticStream().frames(seconds: 3))
        let edge = feed.reference.packager.liveEdgeSequenceNumber
        await #expect(throws: Broadcast.PlaylistError.tooFarAhead) {
            try await feed.broadcast.playlist(PlaylistRequest(msn: edge + 3))
        }
        await #expect(throws: Broadcast.PlaylistError.tooFarAhead) {
            try await feed.broadcast.playlist(PlaylistRequest(msn: edge + 3, part: 0))
        }
    }

    @Test("before any frame, playlists are not ready")
    func notReady() async throws {
        let feed = try BroadcastFeed()
        await #expect(throws: Broadcast.PlaylistError.notReady) { try await feed.broadcast.playlist(PlaylistRequest()) }
        await #expect(throws: Broadcast.PlaylistError.notReady) { try await feed.broadcast.playlist(PlaylistRequest(msn: 0)) }
        guard case .notFound = feed.broadcast.part(msn: 0, index: 0) else {
            Issue.record("no part exists yet")
            return
        }
    }

    @Test("the open part streams its bytes so far, then each new chunk, and finishes when the part completes")
    func streamingPart() async throws {
        var feed = try BroadcastFeed()
        let (first, rest) = SyntheticStream().frames(seconds: 6).split(at: 4.1)
        feed.ingest(first)
        let (msn, part) = try #require(feed.reference.packager.openPartPosition)
        guard case let .open(soFar) = feed.reference.packager.part(msn: msn, index: part) else {
            Issue.record("the reference's open part")
            return
        }
        guard case let .streaming(stream) = feed.broadcast.part(msn: msn, index: part) else {
            Issue.record("the open part should stream")
            return
        }
        let eventsBefore = feed.reference.events.count
        let ingest = Task { [feed] in
            var feed = feed
            feed.ingest(rest)
            return feed.reference.events
        }
        let (received, finished) = await collect(stream)
        let events = await ingest.value
        #expect(finished)
        var expected = [soFar]
        for case let .chunk(m, p, bytes) in events[eventsBefore...] where m == msn && p == part { expected.append(bytes) }
        #expect(expected.count >= 3, "the part got new chunks while it was streamed")
        #expect(received.map(\.readableBytes) == expected.map(\.readableBytes))
        #expect(received.map(\.bytes) == expected.map(\.bytes), "the bytes so far, then each chunk as it was packaged")
        guard case let .complete(whole) = feed.broadcast.part(msn: msn, index: part) else {
            Issue.record("the part is complete now")
            return
        }
        #expect(concatenated(received) == whole.bytes, "the streamed bytes are the part")
    }

    @Test("complete parts and segments are served whole; unknown ones are not found")
    func completeParts() throws {
        var feed = try BroadcastFeed()
        feed.ingest(SyntheticStream().frames(seconds: 5))
        guard case let .complete(bytes) = feed.broadcast.part(msn: 1, index: 2) else {
            Issue.record("part 1.2 is complete")
            return
        }
        #expect(bytes.bytes == feed.reference.segments[1].parts[2].bytes.bytes)
        #expect(feed.broadcast.segment(msn: 1).map(concatenated) == feed.reference.packager.segmentParts(msn: 1).map(concatenated))
        #expect(feed.broadcast.segment(msn: 9) == nil)
        #expect(feed.broadcast.initSegment(version: 0)?.bytes == (try CodecFixtures.muxer()).initSegment.bytes)
        guard case .notFound = feed.broadcast.part(msn: 1, index: 50) else {
            Issue.record("part 1.50 does not exist")
            return
        }
    }

    @Test("after end(), waiting playlist requests return with EXT-X-ENDLIST and streaming parts finish")
    func endReleasesWaiters() async throws {
        var feed = try BroadcastFeed()
        feed.ingest(SyntheticStream().frames(seconds: 3))
        let broadcast = feed.broadcast
        let edge = feed.reference.packager.liveEdgeSequenceNumber
        let request = Task { try await broadcast.playlist(PlaylistRequest(msn: edge + 2)) }
        let (msn, part) = try #require(feed.reference.packager.openPartPosition)
        guard case let .streaming(stream) = broadcast.part(msn: msn, index: part) else {
            Issue.record("the open part should stream")
            return
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(broadcast.end())
        let playlist = MediaPlaylist(try await request.value)
        #expect(playlist.endList)
        #expect(playlist.preloadHint == nil)
        let (received, finished) = await collect(stream)
        #expect(finished)
        guard case let .complete(whole) = broadcast.part(msn: msn, index: part) else {
            Issue.record("the last part is complete once the broadcast ended")
            return
        }
        // The stream ended on audio held for a video frame that never came; ending flushed it into this part.
        #expect(concatenated(received).count == whole.readableBytes, "the streamed part has its last chunk")
        #expect(broadcast.hasEnded)
        #expect(!broadcast.isLive)
    }

    @Test("a codec change in mid-stream finishes the part being streamed")
    func codecChangeFinishesStreamingPart() async throws {
        var feed = try BroadcastFeed()
        let frames = SyntheticStream().frames(seconds: 7)
        // Up to just before the keyframe at 5 s, which is where the new codecs take effect.
        let keyframe = try #require(frames.firstIndex { $0.track == .video && $0.isKeyframe && $0.dts == 5 * 90_000 })
        feed.ingest(frames[..<keyframe])
        let (msn, part) = try #require(feed.reference.packager.openPartPosition)
        guard case let .streaming(stream) = feed.broadcast.part(msn: msn, index: part) else {
            Issue.record("the open part should stream")
            return
        }
        feed.broadcast.ingest(.audioConfiguration(CodecFixtures.aacMono44k), now: BroadcastFeed.time(of: frames[keyframe]))
        for frame in frames[keyframe...] {
            feed.broadcast.ingest(.frame(frame), now: BroadcastFeed.time(of: frame))
        }
        let (received, finished) = await collect(stream, within: .seconds(2))
        #expect(finished, "a viewer loading part \(msn).\(part) would wait forever")
        guard case let .complete(whole) = feed.broadcast.part(msn: msn, index: part) else {
            Issue.record("the part is complete now")
            return
        }
        #expect(concatenated(received).count == whole.readableBytes)
        #expect(concatenated(received) == whole.bytes, "the streamed bytes are the part")
        #expect(feed.broadcast.initSegment(version: 1) != nil)
    }

    @Test("a part streamed while it is being written always equals the finished part")
    func streamingUnderConcurrentIngest() async throws {
        let clip = try DemoClip()
        let broadcast = Broadcast(channel: "race", configuration: HLSConfiguration(partTarget: 0.1), startedAt: testEpoch, logger: Logger(label: "test"))
        broadcast.ingest(.videoConfiguration(clip.video), now: testEpoch)
        broadcast.ingest(.audioConfiguration(clip.audio), now: testEpoch)
        let done = Flag()
        let ingest = Task.detached {
            for frame in clip.frames {
                broadcast.ingest(.frame(frame), now: BroadcastFeed.time(of: frame))
                if frame.track == .video { try? await Task.sleep(for: .milliseconds(1)) }
            }
            done.set()
        }
        var streamed: [(msn: Int, part: Int, stream: AsyncStream<ByteBuffer>)] = []
        var seen: Set<String> = []
        while !done.isSet {
            if let text = try? await broadcast.playlist(PlaylistRequest()),
               let hint = MediaPlaylist(text).preloadHint, !seen.contains(hint),
               case let .part(msn, part)? = HLSNames.parse(hint),
               case let .streaming(stream) = broadcast.part(msn: msn, index: part) {
                seen.insert(hint)
                streamed.append((msn, part, stream))
            }
            await Task.yield()
        }
        await ingest.value
        broadcast.end()
        #expect(streamed.count > 5, "parts were requested while they were being written")
        for (msn, part, stream) in streamed {
            let (received, finished) = await collect(stream, within: .seconds(2))
            #expect(finished)
            guard case let .complete(whole) = broadcast.part(msn: msn, index: part) else { continue }
            let same = concatenated(received) == whole.bytes
            #expect(same, "part \(msn).\(part) streamed out of order or cut short")
        }
    }

    @Test("ingest statistics follow the publisher: frame rate, keyframe interval and bitrate over the window")
    func ingestStats() throws {
        let clip = try DemoClip()
        let broadcast = Broadcast(channel: "stats", configuration: HLSConfiguration(), startedAt: testEpoch, logger: Logger(label: "test"))
        for frame in clip.frames { broadcast.ingest(.frame(frame), now: BroadcastFeed.time(of: frame)) }
        let stats = broadcast.stats
        #expect(stats.videoFrames == clip.frames.filter { $0.track == .video }.count)
        #expect(stats.audioFrames == clip.frames.filter { $0.track == .audio }.count)
        #expect(stats.bytesIn == clip.frames.reduce(0) { $0 + $1.data.readableBytes })
        let frameRate = try #require(stats.frameRate)
        #expect(abs(frameRate - 30) < 1)
        #expect(stats.keyframeInterval == 1.0)
        let bitrate = try #require(stats.bitrate)
        #expect(bitrate > 0)
        #expect(stats.peakBitrate >= bitrate)

        _ = broadcast.publisherDisconnected()
        #expect(broadcast.stats.bitrate == nil, "the window starts afresh for the next publisher")
        #expect(broadcast.stats.videoFrames == stats.videoFrames)
    }

    @Test("the rendition describes the stream: codecs, size and frame rate")
    func rendition() throws {
        let clip = try DemoClip()
        let broadcast = Broadcast(channel: "r", configuration: HLSConfiguration(), startedAt: testEpoch, logger: Logger(label: "test"))
        #expect(broadcast.rendition == nil)
        broadcast.ingest(.videoConfiguration(clip.video), now: testEpoch)
        broadcast.ingest(.audioConfiguration(clip.audio), now: testEpoch)
        for frame in clip.frames.prefix(200) { broadcast.ingest(.frame(frame), now: BroadcastFeed.time(of: frame)) }
        let rendition = try #require(broadcast.rendition)
        #expect(rendition.width == 640)
        #expect(rendition.height == 360)
        #expect(rendition.hasVideo)
        #expect(rendition.codecs == (try clip.muxer()).codecs)
        #expect(abs((rendition.frameRate ?? 0) - 30) < 1)
    }
}
