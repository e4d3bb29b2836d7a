import Foundation
import LiveMedia
import Logging
import MediaFormats
import NIOCore
import Testing

@Suite("Stream clock and demo source")
struct StreamClockTests {
    @Test("media time and wall-clock time convert into each other at 90 kHz")
    func clock() {
        let clock = StreamClock(anchorMediaTime: 900_000, anchorWallClock: testEpoch)
        #expect(clock.wallClock(atMediaTime: 900_000) == testEpoch)
        #expect(clock.wallClock(atMediaTime: 990_000) == testEpoch.addingTimeInterval(1))
        #expect(clock.wallClock(atMediaTime: 0) == testEpoch.addingTimeInterval(-10))
        #expect(clock.mediaTime(at: testEpoch.addingTimeInterval(2.5)) == 900_000 + 225_000)
        for mediaTime: Int64 in [0, 1, 3003, 123_456_789] {
            #expect(clock.mediaTime(at: clock.wallClock(atMediaTime: mediaTime)) == mediaTime)
        }
    }

    @Test("the bundled demo is H.264 640x360 at 30 fps with keyframes every second, and AAC at 48 kHz")
    func demo() throws {
        let source = try DemoSource()
        let clip = try DemoClip()
        guard case .videoConfiguration = source.events.first?.event else {
            Issue.record("the codecs come first")
            return
        }
        let sps = try AVCDecoderConfiguration(record: clip.video).parsedSPS()
        #expect(sps.width == 640)
        #expect(sps.height == 360)
        #expect(try AudioSpecificConfig(bytes: clip.audio).samplingFrequency == 48_000)
        let video = clip.frames.filter { $0.track == .video }
        #expect(video.first?.isKeyframe == true)
        let keyframes = video.filter(\.isKeyframe).map(\.dts)
        #expect(zip(keyframes, keyframes.dropFirst()).allSatisfy { $1 - $0 == 90_000 })
        #expect(video.contains { $0.pts != $0.dts }, "B-frames")
        #expect(zip(video, video.dropFirst()).allSatisfy { $0.dts < $1.dts })
        #expect(abs(Double(source.loopDuration) / 90_000 - 10) < 0.1)
        #expect(source.loopDuration > video.last?.dts ?? .max)
    }
}

/// Seconds as 90 kHz ticks.
private func ticks(_ seconds: Double) -> Int64 { Int64((seconds * 90_000).rounded()) }

/// A deterministic spread in [-1, 1) for frame `i` (the same every run).
private func spread(_ i: Int) -> Double {
    var x = UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15
    x ^= x >> 29
    x = x &* 0xBF58_476D_1CE4_E5B9
    x ^= x >> 32
    return Double(x % 2000) / 1000 - 1
}

@Suite("The stream clock follows the media as it arrives")
struct StreamClockFollowsMediaTests {
    struct Placed {
        var frame: MediaFrame
        var original: MediaFrame
        var arrival: Int64
    }

    /// Places `frames` on a fresh timeline as they arrive: frame time divided by `speed` (0.8: an encoder that manages
    /// 80 % of real time), plus `delay(i)` seconds, never before the frame before it (one TCP stream).
    static func place(_ frames: [MediaFrame], speed: Double = 1, delay: (Int) -> Double = { _ in 0 }) -> [Placed] {
        var timeline = MediaTimeline(jumpThreshold: 10)
        var placed: [Placed] = []
        var lastArrival = Int64.min
        for (i, frame) in frames.enumerated() {
            let arrival = max(lastArrival, Int64(Double(frame.dts) / speed) + ticks(delay(i)))
            lastArrival = arrival
            if case let .placed(mapped, _) = timeline.place(frame, now: arrival, frameDuration: 3000) {
                placed.append(Placed(frame: mapped, original: frame, arrival: arrival))
            }
        }
        return placed
    }

    @Test("an encoder behind real time: for two minutes every video frame lies close to its arrival, and the timeline moves only at keyframes",
          arguments: [(0.88, 0.5), (0.8, 0.75)])
    func slowPublisher(speed: Double, bound: Double) {
        let frames = SyntheticStream().frames(seconds: 120)
        let placed = Self.place(frames, speed: speed)
        let video = placed.filter { $0.frame.track == .video }
        #expect(video.count == frames.filter { $0.track == .video }.count, "no frame lost")
        let worst = video.map { $0.arrival - $0.frame.dts }.max() ?? 0
        #expect(worst < ticks(bound), "largest lag \(Double(worst) / 90_000) s; uncorrected it would be \(Int(120 / speed - 120)) s")
        for (a, b) in zip(video, video.dropFirst()) {
            #expect(b.frame.dts > a.frame.dts)
            // A step larger than the publisher's own is a gap the timeline took: only ever before a keyframe.
            if b.frame.dts - a.frame.dts > b.original.dts - a.original.dts { #expect(b.frame.isKeyframe) }
        }
        // Audio moved with the video: it stays within a frame or two of the video it arrived with.
        let audio = placed.filter { $0.frame.track == .audio }
        #expect(audio.allSatisfy { $0.arrival - $0.frame.dts < ticks(bound + 0.1) })
    }

    @Test("a backlog draining — frames 1.5 s late, catching up over 3 s (a congested link, a busy server) — moves nothing")
    func backlog() {
        let frames = SyntheticStream().frames(seconds: 20)
        let placed = Self.place(frames) { i in
            let t = Double(frames[i].dts) / 90_000
            return t >= 10 && t < 13 ? 1.5 - 0.5 * (t - 10) : 0
        }
        let offsets = Set(placed.filter { $0.frame.track == .video }.map { $0.frame.dts - $0.original.dts })
        #expect(offsets.count == 1, "the media is not left ahead of the clock once the backlog is gone")
    }

    @Test("an on-time publisher with ±40 ms of arrival jitter is never moved")
    func jitteryArrival() {
        let frames = SyntheticStream().frames(seconds: 60)
        let placed = Self.place(frames) { 0.04 * spread($0) + 0.04 }
        let offsets = Set(placed.filter { $0.frame.track == .video }.map { $0.frame.dts - $0.original.dts })
        #expect(offsets.count == 1, "the frames keep the publisher's spacing")
    }

    @Test("a network hiccup — 1.5 s of frames held, then sent at once — moves nothing")
    func hiccup() {
        let frames = SyntheticStream().frames(seconds: 20)
        // From 10 s to 11.5 s of media, frames wait until 11.5 s; then everything is on time again.
        let placed = Self.place(frames) { i in
            let t = Double(frames[i].dts) / 90_000
            return t >= 10 && t < 11.5 ? 11.5 - t : 0
        }
        let offsets = Set(placed.filter { $0.frame.track == .video }.map { $0.frame.dts - $0.original.dts })
        #expect(offsets.count == 1)
    }

    @Test("a publisher whose frames all arrive a second later from some point on is followed once, at a keyframe")
    func steadyDelay() {
        let frames = SyntheticStream().frames(seconds: 20)
        let placed = Self.place(frames) { i in Double(frames[i].dts) / 90_000 >= 10 ? 1 : 0 }
        let video = placed.filter { $0.frame.track == .video }
        let offsets = video.map { $0.frame.dts - $0.original.dts }
        #expect(Set(offsets).count == 2, "one move")
        let moved = zip(video, offsets).first { $0.1 != offsets[0] }
        #expect(moved?.0.frame.isKeyframe == true)
        #expect(abs((offsets.last ?? 0) - offsets[0] - ticks(1)) < ticks(0.05), "by the delay")
        #expect(video.suffix(30).allSatisfy { $0.arrival - $0.frame.dts < ticks(0.1) })
    }

    @Test("a publisher faster than real time is never pulled back: its frames keep their spacing")
    func fastPublisher() {
        let frames = SyntheticStream().frames(seconds: 30)
        let placed = Self.place(frames, speed: 3)
        let offsets = Set(placed.filter { $0.frame.track == .video }.map { $0.frame.dts - $0.original.dts })
        #expect(offsets.count == 1)
    }

    @Test("an audio frame whose timestamp steps back is kept just after the last one; a video frame that does is dropped")
    func audioStepsBack() {
        var timeline = MediaTimeline(jumpThreshold: 10)
        func audio(_ dts: Int64) -> MediaFrame { MediaFrame(track: .audio, pts: dts, dts: dts, isKeyframe: true, data: ByteBuffer()) }
        func video(_ dts: Int64) -> MediaFrame { MediaFrame(track: .video, pts: dts, dts: dts, isKeyframe: false, data: ByteBuffer()) }
        _ = timeline.place(audio(0), now: 0, frameDuration: 3000)
        _ = timeline.place(audio(4000), now: 0, frameDuration: 3000)
        guard case let .placed(kept, _) = timeline.place(audio(1800), now: 0, frameDuration: 3000) else {
            Issue.record("the audio frame was dropped")
            return
        }
        #expect(kept.dts == 4001)
        _ = timeline.place(video(3000), now: 0, frameDuration: 3000)
        guard case .dropped = timeline.place(video(2000), now: 0, frameDuration: 3000) else {
            Issue.record("a video frame that steps back is dropped")
            return
        }
    }

    @Test("at 88 % of real time (14 s behind after two minutes, uncorrected) a cue stamped now is within 0.5 s of the newest frame, whose program date says when it arrived")
    func broadcastAtEightyPercent() async throws {
        let broadcast = Broadcast(channel: "slow", configuration: HLSConfiguration(), startedAt: testEpoch, logger: Logger(label: "test"))
        broadcast.ingest(.videoConfiguration(CodecFixtures.avcHigh720p), now: testEpoch)
        broadcast.ingest(.audioConfiguration(CodecFixtures.aacStereo48k), now: testEpoch)
        let frames = SyntheticStream().frames(seconds: 120)
        var arrival = testEpoch
        var fragments: AsyncStream<LiveFragment>?
        for (i, frame) in frames.enumerated() {
            arrival = testEpoch.addingTimeInterval(Double(frame.dts) / 90_000 / 0.88)
            broadcast.ingest(.frame(frame), now: arrival)
            // A viewer from the middle on (the queue holds what remains).
            if i == frames.count / 2 { fragments = broadcast.subscribeLive(bufferLimit: 4096) }
        }
        let stamp = try #require(broadcast.cueStamp(at: arrival))
        broadcast.end()
        var last: ChunkRun?
        for await fragment in try #require(fragments) {
            if case let .media(bytes) = fragment, let run = try chunkRuns(in: bytes).first(where: { $0.trackID == 1 }) { last = run }
        }
        let videoRun = try #require(last)
        let newest = Int64(videoRun.baseDecodeTime)
        #expect(stamp.mediaTime - newest < ticks(0.5), "cue \(Double(stamp.mediaTime - newest) / 90_000) s after the newest frame")
        // The program date of the newest frame (EXT-X-PROGRAM-DATE-TIME, prft) is within 0.5 s of when it arrived.
        let clock = try #require(broadcast.streamClock)
        #expect(abs(clock.wallClock(atMediaTime: newest).timeIntervalSince(arrival)) < 0.5)
    }
}

@Suite("Audio timestamps a browser can play: back to back")
struct AudioTimingTests {
    /// The chunks a packager would write for `frames`: the audio that came before each video frame goes in its chunk.
    static func chunks(_ frames: [MediaFrame]) throws -> [ChunkRun] {
        var muxer = try CodecFixtures.muxer()
        var pending: [MediaFrame] = []
        var runs: [ChunkRun] = []
        for frame in frames {
            if frame.track == .audio { pending.append(frame); continue }
            runs += try chunkRuns(in: muxer.chunk(video: frame, audio: pending))
            pending.removeAll()
        }
        return runs.filter { $0.trackID == 2 }
    }

    /// Each audio run's start minus where the audio before it ended, in samples.
    static func steps(_ runs: [ChunkRun]) -> [Int64] {
        zip(runs, runs.dropFirst()).map { a, b in Int64(b.baseDecodeTime) - Int64(a.baseDecodeTime) - 1024 * Int64(a.samples.count) }
    }

    @Test("audio timestamps jittering by ±30 ms (clamped to never go back, as ffmpeg's FLV muxer does) are written back to back")
    func jitter() throws {
        var last: Int64 = 0
        let frames = SyntheticStream().frames(seconds: 20).enumerated().map { i, frame -> MediaFrame in
            guard frame.track == .audio else { return frame }
            var frame = frame
            frame.dts = max(last, frame.dts + ticks(0.03 * spread(i)))
            frame.pts = frame.dts
            last = frame.dts
            return frame
        }
        let runs = try Self.chunks(frames)
        #expect(runs.count > 500)
        #expect(Self.steps(runs).allSatisfy { $0 == 0 }, "no gap and no overlap: \(Self.steps(runs).filter { $0 != 0 }.prefix(5))")
    }

    @Test("a 0.3 s hole in the audio is closed by at most half a frame per chunk, never by a gap MSE takes for a discontinuity")
    func hole() throws {
        let frames = SyntheticStream().frames(seconds: 10).map { frame -> MediaFrame in
            guard frame.track == .audio, frame.dts >= ticks(5) else { return frame }
            var frame = frame
            frame.dts += ticks(0.3)
            frame.pts = frame.dts
            return frame
        }
        let steps = Self.steps(try Self.chunks(frames))
        #expect(steps.allSatisfy { $0 >= 0 && $0 <= 512 })
        #expect(steps.reduce(0, +) >= 14_400 - 512, "the hole is closed: 0.3 s at 48 kHz, to within half a frame")
    }

    @Test("a jump of five seconds is taken at once, in the chunk of the next keyframe")
    func jump() throws {
        var stream = SyntheticStream()
        stream.keyframeInterval = 2
        let frames = stream.frames(seconds: 10).map { frame -> MediaFrame in
            guard frame.dts >= ticks(5.1) else { return frame }
            var frame = frame
            frame.dts += ticks(5)
            frame.pts += ticks(5)
            return frame
        }
        var muxer = try CodecFixtures.muxer()
        var pending: [MediaFrame] = []
        var jumpedAtKeyframe: Bool?
        var previousEnd: Int64?
        for frame in frames {
            if frame.track == .audio { pending.append(frame); continue }
            let runs = try chunkRuns(in: muxer.chunk(video: frame, audio: pending))
            pending.removeAll()
            guard let audio = runs.first(where: { $0.trackID == 2 }) else { continue }
            if let previousEnd, Int64(audio.baseDecodeTime) - previousEnd > 48_000 { jumpedAtKeyframe = frame.isKeyframe }
            previousEnd = Int64(audio.baseDecodeTime) + 1024 * Int64(audio.samples.count)
        }
        #expect(jumpedAtKeyframe == true)
    }
}

@Suite("Sub-second viewers are told when the publisher is away")
struct PublisherAwayTests {
    /// What a viewer's stream held, in order: "init", "media" or "interrupted" per fragment.
    static func kinds(_ stream: AsyncStream<LiveFragment>) async -> [String] {
        var kinds: [String] = []
        for await fragment in stream {
            switch fragment {
            case .initSegment: kinds.append("init")
            case .media: kinds.append("media")
            case .interrupted: kinds.append("interrupted")
            }
        }
        return kinds
    }

    @Test("a viewer hears `interrupted` when the publisher drops, one joining meanwhile after its chunks, and media again when it is back")
    func interrupted() async throws {
        var feed = try BroadcastFeed()
        let frames = SyntheticStream().frames(seconds: 6)
        let (first, rest) = (Array(frames.prefix(frames.count / 2)), Array(frames.suffix(from: frames.count / 2)))
        feed.ingest(first)
        let watching = feed.broadcast.subscribeLive(bufferLimit: 4096)
        _ = feed.broadcast.publisherDisconnected()
        let joined = feed.broadcast.subscribeLive(bufferLimit: 4096)
        feed.broadcast.publisherReconnected()
        // The publisher is back: its frames, 5 s later on the clock, continue the timeline.
        for frame in rest {
            var later = frame
            later.dts += 5 * 90_000
            later.pts += 5 * 90_000
            feed.broadcast.ingest(.frame(later), now: BroadcastFeed.time(of: later))
        }
        _ = feed.broadcast.end()
        let seen = await Self.kinds(watching)
        let late = await Self.kinds(joined)
        #expect(seen.filter { $0 == "interrupted" }.count == 1)
        #expect(seen.drop { $0 != "interrupted" }.dropFirst().contains("media"), "media after the interruption")
        #expect(late.first == "init")
        #expect(late.firstIndex(of: "interrupted").map { late[..<$0].allSatisfy { $0 != "interrupted" } && $0 > 1 } == true,
                "the joiner hears it after the chunks it needs to start")
        #expect(late.last == "media")
    }
}
