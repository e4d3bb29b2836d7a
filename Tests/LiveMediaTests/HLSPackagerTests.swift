import Foundation
import LiveMedia
import MediaFormats
import NIOCore
import Testing

@Suite("LL-HLS packager")
struct HLSPackagerTests {
    static let configuration = HLSConfiguration()
    static let ticks = Double(StreamClock.timescale)

    // MARK: Segments and parts

    @Test("segments start at keyframes and close at the first keyframe after the segment target", arguments: [1.0, 0.7, 2.2])
    func segmentBoundaries(keyframeInterval: Double) throws {
        let frames = SyntheticStream(keyframeInterval: keyframeInterval).frames(seconds: 12)
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(frames)

        let keyframes = frames.filter { $0.track == .video && $0.isKeyframe }.map(\.dts)
        var expectedStarts: [Int64] = [keyframes[0]]
        for keyframe in keyframes where Double(keyframe - expectedStarts[expectedStarts.count - 1]) >= Self.configuration.segmentTarget * Self.ticks {
            expectedStarts.append(keyframe)
        }
        let segments = run.segments
        let starts = segments.map(\.startTime) + [run.packager.openSegment?.startTime].compactMap { $0 }
        #expect(starts == expectedStarts)
        for (segment, next) in zip(segments, starts.dropFirst()) {
            #expect(segment.duration == Double(next - segment.startTime) / Self.ticks)
            let firstVideo = try chunkSamples(in: segment.parts[0].bytes).first { $0.trackID == 1 }
            #expect(firstVideo?.isSync == true, "segment \(segment.sequenceNumber) starts with a keyframe")
        }
        let targetDuration = try #require(run.playlist.number("#EXT-X-TARGETDURATION"))
        for segment in run.playlist.segments {
            #expect(segment.duration.rounded() <= targetDuration, "EXTINF \(segment.duration) fits TARGETDURATION \(targetDuration)")
        }
    }

    @Test("frames before the first keyframe are dropped: a segment never starts mid-GOP")
    func waitsForKeyframe() throws {
        let frames = SyntheticStream().frames(seconds: 3)
        let firstKeyframeAfterStart = try #require(frames.dropFirst(2).firstIndex { $0.track == .video && $0.isKeyframe })
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(frames[2..<firstKeyframeAfterStart])
        #expect(run.events.isEmpty)
        #expect(run.packager.openSegment == nil)
        run.append(frames[firstKeyframeAfterStart...])
        #expect(run.packager.openSegment?.startTime == frames[firstKeyframeAfterStart].dts)
    }

    /// Checks every completed part of a stream at `fps` against the part target, in the packager and in the playlist.
    static func checkPartDurations(fps: Double) throws {
        let frames = SyntheticStream(fps: fps).frames(seconds: 7)
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(frames)
        let target = Self.configuration.advertisedPartTarget
        let parts = run.completedParts
        #expect(parts.count > 20)
        for (msn, part) in parts {
            #expect(part.duration > 0)
            #expect(part.duration <= target, "part \(msn).\(part.index) lasts \(part.duration) s")
        }
        // A part that a segment boundary did not end could not have taken one more frame.
        for segment in run.segments {
            for part in segment.parts.dropLast() {
                #expect(part.duration > target - 1.5 / fps, "part \(segment.sequenceNumber).\(part.index) lasts only \(part.duration) s")
            }
        }
        let playlist = run.playlist
        let partTarget = try #require(Double(playlist.attribute("PART-TARGET", of: "#EXT-X-PART-INF") ?? ""))
        for part in playlist.allParts {
            #expect(part.duration <= partTarget, "\(part.uri) DURATION \(part.duration)")
        }
    }

    @Test("part durations never exceed the part target, and parts are not cut needlessly short", arguments: [23.976, 24, 25, 30, 50, 60])
    func partDurations(fps: Double) throws {
        try Self.checkPartDurations(fps: fps)
    }

    @Test("at NTSC rates whose frames do not divide the part target, parts still never exceed it", arguments: [29.97, 59.94])
    func partDurationsAtNTSCRates(fps: Double) throws {
        // Six frames at 29.97 fps (twelve at 59.94) last 200.2 ms: the advertised PART-TARGET (target + 1 %) holds them.
        try Self.checkPartDurations(fps: fps)
    }

    @Test("the demo clip's parts never exceed the part target")
    func demoPartDurations() throws {
        let clip = try DemoClip()
        var run = PackagingRun(muxer: try clip.muxer())
        run.append(clip.frames)
        run.events += run.packager.end()
        for (msn, part) in run.allParts {
            #expect(part.duration <= Self.configuration.advertisedPartTarget, "part \(msn).\(part.index) lasts \(part.duration) s")
        }
    }

    @Test("INDEPENDENT is set exactly on the parts that start with a keyframe")
    func independentParts() throws {
        let clip = try DemoClip()
        var run = PackagingRun(muxer: try clip.muxer())
        run.append(clip.frames)
        var independentMidSegment = 0
        for (msn, part) in run.allParts {
            let firstVideo = try chunkSamples(in: part.bytes).first { $0.trackID == 1 }
            #expect(part.independent == (firstVideo?.isSync == true), "part \(msn).\(part.index)")
            if part.independent, part.index > 0 { independentMidSegment += 1 }
        }
        #expect(independentMidSegment > 0, "the demo's GOP is half a segment, so some parts start at a mid-segment keyframe")

        let independentByURI = Dictionary(uniqueKeysWithValues: run.allParts.map { (HLSNames.part($0.msn, $0.part.index), $0.part.independent) })
        let listed = run.playlist.allParts
        #expect(!listed.isEmpty)
        for part in listed {
            #expect(part.independent == independentByURI[part.uri], "\(part.uri) INDEPENDENT")
        }
    }

    @Test("every frame fed from the first keyframe on ends up in exactly one part, in order")
    func everyFrameOnce() throws {
        let clip = try DemoClip()
        var run = PackagingRun(muxer: try clip.muxer())
        run.append(clip.frames)
        run.events += run.packager.end()
        let samples = try run.segments.flatMap { segment in
            try segment.parts.flatMap { try chunkSamples(in: $0.bytes) }
        }
        let expected = clip.framesFromFirstKeyframe
        #expect(samples.count == expected.count)
        #expect(samples.map(\.data) == expected.map(\.data.bytes))
        #expect(samples.map(\.trackID) == expected.map { $0.track == .video ? 1 : 2 })
    }

    @Test("a segment's parts put together are its bytes, which are exactly the chunks announced for it")
    func partsMakeTheSegment() throws {
        let clip = try DemoClip()
        var run = PackagingRun(muxer: try clip.muxer())
        run.append(clip.frames)
        #expect(run.segments.count >= 3)
        for segment in run.segments {
            let parts = try #require(run.packager.segmentParts(msn: segment.sequenceNumber))
            #expect(parts.count == segment.parts.count)
            #expect(concatenated(parts).count == segment.byteCount)
            var announced: [Int: [ByteBuffer]] = [:]
            for case let .chunk(msn, part, bytes) in run.events where msn == segment.sequenceNumber {
                announced[part, default: []].append(bytes)
            }
            #expect(announced.keys.sorted() == Array(parts.indices))
            for (index, part) in parts.enumerated() {
                #expect(part.bytes == concatenated(announced[index] ?? []), "part \(segment.sequenceNumber).\(index)")
            }
        }
    }

    @Test("each part and segment completion is announced once, in order")
    func completionEvents() throws {
        let frames = SyntheticStream().frames(seconds: 9)
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(frames)
        var completedParts: [String] = []
        var completedSegments: [Int] = []
        for event in run.events {
            switch event {
            case let .partCompleted(msn, part): completedParts.append(HLSNames.part(msn, part))
            case let .segmentCompleted(msn): completedSegments.append(msn)
            case .chunk: break
            }
        }
        #expect(completedSegments == run.segments.map(\.sequenceNumber))
        #expect(completedParts == run.completedParts.map { HLSNames.part($0.msn, $0.part.index) })
    }

    // MARK: Blocking reload and the preload hint

    @Test("contains(msn:part:) holds once the segment, or the part, is complete (RFC 8216bis §6.2.5.2)")
    func containsSemantics() throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream().frames(seconds: 4.5))
        let packager = run.packager
        let (open, openPart) = try #require(packager.openPartPosition)
        #expect(open == 2)
        #expect(openPart >= 2)
        let cases: [(msn: Int, part: Int?, expected: Bool)] = [
            (0, nil, true), (1, nil, true), (1, 0, true), (1, 99, true),
            (2, nil, false), (2, 0, true), (2, openPart - 1, true), (2, openPart, false), (2, openPart + 1, false),
            (3, nil, false), (3, 0, false),
        ]
        for (msn, part, expected) in cases {
            #expect(packager.contains(msn: msn, part: part) == expected, "msn \(msn) part \(part.map(String.init) ?? "-")")
        }
        var ended = packager
        ended.end()
        #expect(ended.contains(msn: 3, part: 0), "an ended playlist answers every request")
    }

    @Test("the preload hint names the open part, which is not listed yet and is served as open")
    func preloadHint() throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream().frames(seconds: 4.5))
        let (msn, part) = try #require(run.packager.openPartPosition)
        let playlist = run.playlist
        #expect(playlist.preloadHint == HLSNames.part(msn, part))
        #expect(playlist.allParts.map(\.uri).contains(HLSNames.part(msn, part)) == false)
        #expect(playlist.trailingParts.map(\.uri) == (0..<part).map { HLSNames.part(msn, $0) })
        guard case let .open(bytes) = run.packager.part(msn: msn, index: part) else {
            Issue.record("the hinted part should be open")
            return
        }
        #expect(bytes.readableBytes > 0)
        guard case .complete = run.packager.part(msn: msn, index: part - 1) else {
            Issue.record("the part before the hinted one should be complete")
            return
        }
        guard case .notFound = run.packager.part(msn: msn, index: part + 1) else {
            Issue.record("a part after the hinted one does not exist yet")
            return
        }
    }

    // MARK: The sliding window

    @Test("old segments slide out after segmentCount and MEDIA-SEQUENCE advances")
    func slidingWindow() throws {
        var run = PackagingRun(configuration: HLSConfiguration(segmentCount: 3), muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream().frames(seconds: 17))
        #expect(run.segments.map(\.sequenceNumber) == [5, 6, 7])
        #expect(run.packager.openSegment?.sequenceNumber == 8)
        let playlist = run.playlist
        #expect(playlist.mediaSequence == 5)
        #expect(playlist.segments.map(\.uri) == ["seg5.m4s", "seg6.m4s", "seg7.m4s"])
        #expect(run.packager.segmentParts(msn: 4) == nil)
        #expect(run.packager.segmentParts(msn: 5) != nil)
        guard case .notFound = run.packager.part(msn: 4, index: 0) else {
            Issue.record("a part of a segment that slid out is gone")
            return
        }
        #expect(run.packager.initSegments.keys.sorted() == [0])
    }

    @Test("after interrupt(), the next segment follows an EXT-X-DISCONTINUITY, and DISCONTINUITY-SEQUENCE advances when it slides out")
    func discontinuity() throws {
        var run = PackagingRun(configuration: HLSConfiguration(segmentCount: 3), muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream().frames(seconds: 5))
        let events = run.packager.interrupt()
        #expect(events.contains(.segmentCompleted(msn: 2)))
        #expect(run.packager.openSegment == nil)
        let paused = run.playlist
        #expect(paused.preloadHint == nil)
        #expect(!paused.endList)
        #expect(paused.segments.map(\.uri) == ["seg0.m4s", "seg1.m4s", "seg2.m4s"])

        // The publisher comes back 20 s into the stream's timeline.
        let resumed = SyntheticStream().frames(seconds: 11, startingAt: 20 * 90_000, serial: 1_000_000)
        var numbers: [String: Int] = [:]
        var sawTagged = false
        var sawSequenceAdvance = false
        for frame in resumed {
            let events = run.packager.append(frame)
            guard events.contains(where: { if case .segmentCompleted = $0 { true } else { false } }) else { continue }
            let playlist = run.playlist
            for segment in playlist.segments {
                #expect(segment.discontinuity == (segment.uri == "seg3.m4s"), "\(segment.uri) EXT-X-DISCONTINUITY")
                if segment.discontinuity { sawTagged = true }
            }
            let listed = playlist.segments.map(\.uri)
            #expect(playlist.discontinuitySequence == (listed.contains("seg3.m4s") ? 0 : 1))
            if playlist.discontinuitySequence == 1 { sawSequenceAdvance = true }
            // A segment's discontinuity sequence number never changes from one reload to the next.
            for (uri, number) in playlist.discontinuityNumbers {
                #expect(numbers[uri, default: number] == number, "\(uri) discontinuity number")
                numbers[uri] = number
            }
        }
        #expect(sawTagged)
        #expect(sawSequenceAdvance)
        #expect(numbers["seg2.m4s"] == 0)
        #expect(numbers["seg3.m4s"] == 1)
        #expect(numbers["seg6.m4s"] == 1)
    }

    @Test("end() closes the open segment, adds EXT-X-ENDLIST, drops the preload hint and ignores later frames")
    func end() throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        let frames = SyntheticStream().frames(seconds: 5)
        run.append(frames[..<(frames.count - 10)])
        let events = run.packager.end()
        #expect(events.contains(.segmentCompleted(msn: 2)))
        #expect(run.packager.ended)
        #expect(run.packager.openSegment == nil)
        let playlist = run.playlist
        #expect(playlist.endList)
        #expect(playlist.preloadHint == nil)
        #expect(playlist.segments.map(\.uri) == ["seg0.m4s", "seg1.m4s", "seg2.m4s"])
        #expect(playlist.trailingParts.isEmpty)
        #expect(playlist.segments.last?.parts.isEmpty == false)

        for frame in frames.suffix(10) { #expect(run.packager.append(frame).isEmpty) }
        #expect(run.playlist.text == playlist.text)
    }

    @Test("a codec change closes the open segment and starts a new init segment after a discontinuity")
    func codecChange() throws {
        var run = PackagingRun(configuration: HLSConfiguration(segmentCount: 3), muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream().frames(seconds: 5))
        let events = run.packager.configure(try CodecFixtures.muxer(audio: CodecFixtures.aacMono44k))
        #expect(events.contains(.segmentCompleted(msn: 2)), "whoever streams the open part must hear that it completed")
        #expect(run.packager.initVersion == 1)
        run.append(SyntheticStream(audioRate: 44_100).frames(seconds: 3, startingAt: 5 * 90_000, serial: 1_000_000))
        let playlist = run.playlist
        let changed = try #require(playlist.segments.first { $0.uri == "seg3.m4s" })
        #expect(changed.discontinuity)
        #expect(changed.map == HLSNames.initSegment(1))
        #expect(playlist.segments.first?.map == HLSNames.initSegment(0))
        #expect(run.packager.initSegments.keys.sorted() == [0, 1])

        // Once no listed segment needs the old init segment, it is dropped.
        run.append(SyntheticStream(audioRate: 44_100).frames(seconds: 8, startingAt: 8 * 90_000, serial: 2_000_000))
        #expect(run.packager.initSegments.keys.sorted() == [1])
        #expect(run.packager.configure(try CodecFixtures.muxer(audio: CodecFixtures.aacMono44k)).isEmpty, "the same codecs change nothing")
        #expect(run.packager.initVersion == 1)
    }

    @Test("an audio-only stream is cut on AAC frames, and every part is independent")
    func audioOnly() throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer(video: false))
        let frames = SyntheticStream().frames(seconds: 7).filter { $0.track == .audio }
        run.append(frames)
        #expect(run.segments.count == 3)
        for (msn, part) in run.completedParts {
            #expect(part.independent)
            #expect(part.duration <= Self.configuration.advertisedPartTarget, "part \(msn).\(part.index)")
        }
        let samples = try run.allParts.flatMap { try chunkSamples(in: $0.part.bytes) }
        #expect(samples.map(\.data) == frames.map(\.data.bytes))
    }
}
