import Foundation
import LiveMedia
import Logging
import MediaFormats
import NIOCore
import Testing

/// Frames whose timestamps are shifted by `shift` from index `from` on: a publisher whose clock jumps.
private func jumped(_ frames: [MediaFrame], from index: Int, by shift: Int64) -> [MediaFrame] {
    frames.enumerated().map { i, frame in
        guard i >= index else { return frame }
        var frame = frame
        frame.dts += shift
        frame.pts += shift
        return frame
    }
}

private let ticks = Double(StreamClock.timescale)

@Suite("Timestamps a publisher cannot abuse: the media timeline")
struct MediaTimelineTests {
    func frame(_ track: MediaFrame.Track, _ dts: Int64) -> MediaFrame {
        MediaFrame(track: track, pts: dts, dts: dts, isKeyframe: true, data: ByteBuffer())
    }

    func dts(_ placement: MediaTimeline.Placement) -> Int64? {
        if case let .placed(frame, _) = placement { return frame.dts }
        return nil
    }

    func jumpedFlag(_ placement: MediaTimeline.Placement) -> Bool {
        if case let .placed(_, afterJump) = placement { return afterJump }
        return false
    }

    @Test("the first frame is anchored at the clock's now; later frames keep their spacing")
    func anchor() {
        var timeline = MediaTimeline(jumpThreshold: 10)
        #expect(dts(timeline.place(frame(.video, 5_000_000), now: 900, frameDuration: 3000)) == 900)
        #expect(dts(timeline.place(frame(.video, 5_003_000), now: 0, frameDuration: 3000)) == 3900)
        #expect(dts(timeline.place(frame(.audio, 5_001_000), now: 0, frameDuration: 3000)) == 1900)
    }

    @Test("a jump of more than the threshold either way is taken out: the track goes on one frame later", arguments: [
        Int64(3600 * 90_000), Int64(11 * 90_000), -Int64(3600 * 90_000), -Int64(11 * 90_000),
    ])
    func jump(shift: Int64) {
        var timeline = MediaTimeline(jumpThreshold: 10)
        _ = timeline.place(frame(.video, 1_000_000), now: 0, frameDuration: 3000)
        _ = timeline.place(frame(.video, 1_003_000), now: 0, frameDuration: 3000)
        let after = timeline.place(frame(.video, 1_006_000 + shift), now: 0, frameDuration: 3000)
        #expect(dts(after) == 6000)
        #expect(jumpedFlag(after))
        // The new timestamps keep their own spacing from there on.
        let next = timeline.place(frame(.video, 1_009_000 + shift), now: 0, frameDuration: 3000)
        #expect(dts(next) == 9000)
        #expect(!jumpedFlag(next))
    }

    @Test("a jump under the threshold is kept (the publisher stalled); a small step back is dropped")
    func underThreshold() {
        var timeline = MediaTimeline(jumpThreshold: 10)
        _ = timeline.place(frame(.video, 0), now: 0, frameDuration: 3000)
        let stalled = timeline.place(frame(.video, 5 * 90_000), now: 0, frameDuration: 3000)
        #expect(dts(stalled) == Int64(5 * 90_000))
        #expect(!jumpedFlag(stalled))
        #expect(dts(timeline.place(frame(.video, 4 * 90_000), now: 0, frameDuration: 3000)) == nil)
    }

    @Test("a reconnecting publisher continues after what is on the timeline, never behind it")
    func reconnect() {
        var timeline = MediaTimeline(jumpThreshold: 10)
        _ = timeline.place(frame(.video, 0), now: 0, frameDuration: 3000)
        _ = timeline.place(frame(.video, 900_000), now: 0, frameDuration: 3000)
        timeline.reanchor()
        #expect(dts(timeline.place(frame(.video, 0), now: 450_000, frameDuration: 3000)) == 900_001)
    }
}

@Suite("Timestamps a publisher cannot abuse: segments and playlists")
struct TimestampAbuseTests {
    static let configuration = HLSConfiguration()

    /// Feeds `frames` to a broadcast with the wall clock running at real time (one frame interval per frame,
    /// whatever the timestamps say), and returns its media playlist.
    static func broadcastPlaylist(_ frames: [MediaFrame], original: [MediaFrame]) async throws -> (MediaPlaylist, Broadcast) {
        let broadcast = Broadcast(channel: "jumpy", configuration: configuration, startedAt: testEpoch, logger: Logger(label: "test"))
        broadcast.ingest(.videoConfiguration(CodecFixtures.avcHigh720p), now: testEpoch)
        broadcast.ingest(.audioConfiguration(CodecFixtures.aacStereo48k), now: testEpoch)
        for (frame, real) in zip(frames, original) {
            broadcast.ingest(.frame(frame), now: testEpoch.addingTimeInterval(Double(real.dts) / ticks))
        }
        return (MediaPlaylist(try await broadcast.playlist(PlaylistRequest())), broadcast)
    }

    @Test("a forward or backward jump of an hour starts a new segment after EXT-X-DISCONTINUITY, with no jump in the media timeline",
          arguments: [Int64(3600 * 90_000), -Int64(3600 * 90_000) + 40 * 90_000])
    func jumpMakesDiscontinuity(shift: Int64) async throws {
        let original = SyntheticStream(keyframeInterval: 1).frames(seconds: 16, startingAt: 3600 * 90_000)
        let index = try #require(original.firstIndex { $0.dts >= 3600 * 90_000 + 9 * 90_000 + 45_000 })
        let (playlist, broadcast) = try await Self.broadcastPlaylist(jumped(original, from: index, by: shift), original: original)
        #expect(playlist.number("#EXT-X-TARGETDURATION") == 2)
        #expect(playlist.segments.filter(\.discontinuity).count == 1, "exactly one discontinuity:\n\(playlist.text)")
        // Continuous: each segment's program date is the previous one's plus its duration, to within a frame or two.
        for (a, b) in zip(playlist.segments, playlist.segments.dropFirst()) {
            guard let start = a.programDateTime, let next = b.programDateTime else { Issue.record("PDT missing"); continue }
            let step = next.timeIntervalSince(start)
            #expect(abs(step - a.duration) < 0.1 || b.discontinuity && step >= a.duration && step < a.duration + 1.1,
                    "segment after \(a.uri) starts \(step) s later, lasting \(a.duration)")
            #expect(step < 3, "no jump on the timeline after \(a.uri)")
        }
        let clock = try #require(broadcast.streamClock)
        let lastDate = try #require(playlist.segments.last?.programDateTime)
        #expect(abs(clock.mediaTime(at: lastDate) - clock.mediaTime(at: testEpoch.addingTimeInterval(3600 + 14))) < 4 * 90_000,
                "the timeline stays with the wall clock")
    }

    @Test("a publisher that sends no keyframe for a minute: TARGETDURATION and every EXTINF stay at the configured target")
    func noKeyframeForAMinute() throws {
        let frames = SyntheticStream(fps: 10, keyframeInterval: 60, audioRate: nil).frames(seconds: 66)
        var run = PackagingRun(configuration: Self.configuration, muxer: try CodecFixtures.muxer())
        run.append(frames)
        let playlist = run.playlist
        #expect(playlist.number("#EXT-X-TARGETDURATION") == 2)
        #expect(run.packager.targetDuration == 2)
        #expect(playlist.segments.count == Self.configuration.segmentCount)
        for segment in run.segments {
            #expect((segment.duration ?? 99).rounded() <= 2, "segment \(segment.sequenceNumber) lasts \(segment.duration ?? 0) s")
            for part in segment.parts {
                #expect(part.duration <= Self.configuration.advertisedPartTarget + 1e-9)
            }
        }
        // Cut for length, the segments after the first start without a keyframe; the keyframe at 60 s begins one again.
        let keyframeSegment = try #require(run.segments.first { $0.startTime == 60 * 90_000 })
        #expect(keyframeSegment.parts.first?.independent == true)
        let cut = try #require(run.segments.first { $0.startTime > 50 * 90_000 && $0.startTime < 60 * 90_000 })
        #expect(cut.parts.first?.independent == false)
        #expect(!playlist.lines.contains("#EXT-X-DISCONTINUITY"))
    }

    @Test("a gap in the timestamps too long for one segment closes it before the gap and follows with a discontinuity")
    func gap() throws {
        let before = SyntheticStream(keyframeInterval: 1).frames(seconds: 3)
        let after = SyntheticStream(keyframeInterval: 1).frames(seconds: 4, startingAt: 3 * 90_000 + 6 * 90_000, serial: 10_000)
        var run = PackagingRun(configuration: Self.configuration, muxer: try CodecFixtures.muxer())
        run.append(before + after)
        for segment in run.segments {
            #expect((segment.duration ?? 99).rounded() <= 2, "segment \(segment.sequenceNumber) lasts \(segment.duration ?? 0) s")
            for part in segment.parts { #expect(part.duration <= Self.configuration.advertisedPartTarget + 1e-9) }
        }
        let resumed = try #require(run.segments.first { $0.startTime >= 9 * 90_000 })
        #expect(resumed.discontinuity)
        #expect(run.playlist.number("#EXT-X-TARGETDURATION") == 2)
    }

    @Test("a blocking playlist reload is held at most three configured target durations, then answered")
    func blockingReloadBound() async throws {
        let configuration = HLSConfiguration(segmentTarget: 1.0)
        let broadcast = Broadcast(channel: "stalled", configuration: configuration, startedAt: testEpoch, logger: Logger(label: "test"))
        broadcast.ingest(.videoConfiguration(CodecFixtures.avcHigh720p), now: testEpoch)
        broadcast.ingest(.audioConfiguration(CodecFixtures.aacStereo48k), now: testEpoch)
        // Three seconds of frames whose single keyframe comes first: the open segment is cut for length, not by
        // keyframes, and then the publisher goes quiet.
        for frame in SyntheticStream(keyframeInterval: 60).frames(seconds: 3) {
            broadcast.ingest(.frame(frame), now: testEpoch.addingTimeInterval(Double(frame.dts) / ticks))
        }
        let playlist = MediaPlaylist(try await broadcast.playlist(PlaylistRequest()))
        #expect(playlist.number("#EXT-X-TARGETDURATION") == 1)
        let next = playlist.segments.count + 1
        let start = ContinuousClock.now
        await #expect(throws: Broadcast.PlaylistError.timedOut) {
            _ = try await broadcast.playlist(PlaylistRequest(msn: next, part: 0))
        }
        let held = ContinuousClock.now - start
        // 3 s is the bound; the slack is for a loaded test machine's timers.
        #expect(held >= .milliseconds(2900) && held < .milliseconds(4500), "held \(held), the bound is 3 × 1 s")
    }
}
