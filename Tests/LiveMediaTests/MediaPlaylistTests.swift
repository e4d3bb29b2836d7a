import Foundation
import LiveMedia
import MediaFormats
import Testing

@Suite("Media playlist")
struct MediaPlaylistTests {
    @Test("the header announces blocking reload, PART-HOLD-BACK of at least three part targets and CAN-SKIP-UNTIL of six target durations", arguments: [0.2, 0.25, 0.5])
    func header(partTarget: Double) throws {
        var run = PackagingRun(configuration: HLSConfiguration(partTarget: partTarget), muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream().frames(seconds: 7))
        let playlist = run.playlist
        #expect(playlist.lines.first == "#EXTM3U")
        #expect(playlist.tag("#EXT-X-VERSION") == "9")
        let target = try #require(playlist.number("#EXT-X-TARGETDURATION"))
        let renderedPartTarget = try #require(Double(playlist.attribute("PART-TARGET", of: "#EXT-X-PART-INF") ?? ""))
        #expect(abs(renderedPartTarget - HLSConfiguration(partTarget: partTarget).advertisedPartTarget) < 1e-9)
        #expect(renderedPartTarget >= partTarget && renderedPartTarget <= partTarget * 1.011)
        #expect(playlist.attribute("CAN-BLOCK-RELOAD", of: "#EXT-X-SERVER-CONTROL") == "YES")
        let holdBack = try #require(Double(playlist.attribute("PART-HOLD-BACK", of: "#EXT-X-SERVER-CONTROL") ?? ""))
        #expect(holdBack >= 3 * renderedPartTarget - 1e-9)
        let canSkipUntil = try #require(Double(playlist.attribute("CAN-SKIP-UNTIL", of: "#EXT-X-SERVER-CONTROL") ?? ""))
        #expect(canSkipUntil == 6 * target)
        for part in playlist.allParts { #expect(part.duration <= renderedPartTarget, "\(part.uri)") }
    }

    @Test("every segment has an EXT-X-PROGRAM-DATE-TIME, spaced by the segment durations", arguments: [1.0, 0.7])
    func programDateTime(keyframeInterval: Double) throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream(keyframeInterval: keyframeInterval).frames(seconds: 15))
        let playlist = run.playlist
        let segments = playlist.segments
        #expect(segments.count >= 5)
        let dates = segments.compactMap(\.programDateTime)
        #expect(dates.count == segments.count)
        let firstStart = try #require(run.segments.first).startTime
        #expect(abs(try #require(dates.first).timeIntervalSince(testEpoch) - Double(firstStart) / 90_000) <= 0.001 + 1e-6)
        for (index, (date, next)) in zip(dates, dates.dropFirst()).enumerated() {
            // The dates are written to the millisecond.
            #expect(abs(next.timeIntervalSince(date) - segments[index].duration) <= 0.001 + 1e-6, "\(segments[index].uri)")
        }
    }

    @Test("a delta update skips exactly the segments older than CAN-SKIP-UNTIL and lists the same tail as the full playlist", arguments: [1.0, 0.7])
    func deltaUpdate(keyframeInterval: Double) throws {
        let configuration = HLSConfiguration(segmentTarget: 1, segmentCount: 12)
        var run = PackagingRun(configuration: configuration, muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream(keyframeInterval: keyframeInterval).frames(seconds: 20.5))
        let full = run.playlist
        let delta = MediaPlaylist(run.packager.renderMediaPlaylist(skip: true))
        let canSkipUntil = try #require(Double(full.attribute("CAN-SKIP-UNTIL", of: "#EXT-X-SERVER-CONTROL") ?? ""))

        // A segment may be skipped when it starts more than CAN-SKIP-UNTIL before the end of the listed segments.
        let durations = full.segments.map(\.duration)
        let skippable = durations.indices.filter { durations[$0...].reduce(0, +) > canSkipUntil + 1e-9 }.count
        #expect(skippable > 0)
        #expect(delta.tag("#EXT-X-SKIP") == "SKIPPED-SEGMENTS=\(skippable)")
        #expect(delta.mediaSequence == full.mediaSequence)
        #expect(delta.discontinuitySequence == full.discontinuitySequence)

        let tail = Array(full.segments.dropFirst(skippable))
        #expect(delta.segments.map(\.uri) == tail.map(\.uri))
        #expect(delta.segments.map(\.duration) == tail.map(\.duration))
        #expect(delta.segments.map(\.parts) == tail.map(\.parts))
        #expect(delta.segments.map(\.programDateTime) == tail.map(\.programDateTime))
        #expect(delta.segments.first?.map == HLSNames.initSegment(0), "the first listed segment still names its init segment")
        #expect(delta.trailingParts == full.trailingParts)
        #expect(delta.preloadHint == full.preloadHint)
    }

    @Test("a playlist shorter than CAN-SKIP-UNTIL skips nothing")
    func deltaWithNothingToSkip() throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream().frames(seconds: 7))
        let delta = run.packager.renderMediaPlaylist(skip: true)
        #expect(!delta.contains("#EXT-X-SKIP"))
        #expect(delta == run.packager.renderMediaPlaylist())
    }

    @Test("parts are listed only for the last few segments")
    func partsOnlyNearTheEdge() throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream().frames(seconds: 15))
        let playlist = run.playlist
        let listed = HLSConfiguration().partListedSegments
        #expect(playlist.segments.count > listed)
        for segment in playlist.segments.dropLast(listed) { #expect(segment.parts.isEmpty, "\(segment.uri)") }
        for segment in playlist.segments.suffix(listed) { #expect(!segment.parts.isEmpty, "\(segment.uri)") }
    }

    @Test("a segment's listed parts add up to its EXTINF")
    func partsAddUp() throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream(fps: 29.97).frames(seconds: 9))
        for segment in run.playlist.segments where !segment.parts.isEmpty {
            #expect(abs(segment.parts.map(\.duration).reduce(0, +) - segment.duration) < 0.0005, "\(segment.uri)")
        }
    }
}
