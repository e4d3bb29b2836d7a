import LiveMedia
import MediaFormats
import NIOCore
import Testing

@Suite("CMAF chunks written by the packager")
struct CMAFChunkTests {
    /// The demo clip packaged, with every chunk read back by ISOBMFFReader.
    static func packagedDemo() throws -> (clip: DemoClip, runs: [ChunkRun], chunks: [ByteBuffer]) {
        let clip = try DemoClip()
        var run = PackagingRun(muxer: try clip.muxer())
        run.append(clip.frames)
        run.events += run.packager.end()
        var chunks: [ByteBuffer] = []
        for case let .chunk(_, _, bytes) in run.events { chunks.append(bytes) }
        return (clip, try chunks.flatMap { try chunkRuns(in: $0) }, chunks)
    }

    @Test("each video chunk's tfdt is its frame's decode time, with the composition offset and sync flag of the frame")
    func videoTiming() throws {
        let (clip, runs, _) = try Self.packagedDemo()
        var framesByData: [[UInt8]: MediaFrame] = [:]
        for frame in clip.frames where frame.track == .video { framesByData[frame.data.bytes] = frame }
        let videoRuns = runs.filter { $0.trackID == 1 }
        #expect(videoRuns.count == clip.framesFromFirstKeyframe.filter { $0.track == .video }.count)
        var bFrames = 0
        for run in videoRuns {
            #expect(run.samples.count == 1, "one video frame per chunk")
            guard let sample = run.samples.first, let frame = framesByData[sample.data] else {
                Issue.record("a video sample that was never fed")
                continue
            }
            #expect(run.baseDecodeTime == UInt64(frame.dts))
            #expect(sample.compositionOffset == frame.pts - frame.dts)
            #expect(sample.isSync == frame.isKeyframe)
            if frame.pts != frame.dts { bFrames += 1 }
        }
        #expect(bFrames > 0, "the demo has B-frames, so composition offsets are exercised")
    }

    @Test("audio tfdt advances by 1024 samples per AAC frame, starting at the first frame's time at 48 kHz")
    func audioTiming() throws {
        let (clip, runs, _) = try Self.packagedDemo()
        let audioRuns = runs.filter { $0.trackID == 2 }
        #expect(audioRuns.count > 100)
        let firstAudio = try #require(clip.framesFromFirstKeyframe.first { $0.track == .audio })
        #expect(audioRuns.first?.baseDecodeTime == UInt64(firstAudio.dts * 48_000 / 90_000))
        for (run, next) in zip(audioRuns, audioRuns.dropFirst()) {
            #expect(next.baseDecodeTime == run.baseDecodeTime + 1024 * UInt64(run.samples.count))
        }
        #expect(audioRuns.flatMap(\.samples).allSatisfy { $0.duration == 1024 && $0.isSync })
    }

    @Test("fragment sequence numbers go up by one with every chunk")
    func sequenceNumbers() throws {
        let (_, _, chunks) = try Self.packagedDemo()
        let numbers = try chunks.map { chunk in
            try #require(ISOBMFFReader.first(["moof", "mfhd"], in: try ISOBMFFReader.boxes(in: chunk))).decodeMovieFragmentSequenceNumber()
        }
        #expect(numbers == Array(1...UInt32(numbers.count)))
    }

    @Test("the init segment declares a 90 kHz video track of the stream's size and an audio track at its sample rate")
    func initSegment() throws {
        let muxer = try DemoClip().muxer()
        #expect(muxer.width == 640)
        #expect(muxer.height == 360)
        #expect(muxer.codecs.hasPrefix("avc1.64"))
        #expect(muxer.codecs.hasSuffix(",mp4a.40.2"))
        let boxes = try ISOBMFFReader.boxes(in: muxer.initSegment)
        #expect(boxes.map(\.type) == ["ftyp", "moov"])
        let tracks = try #require(boxes.last).children("trak")
        #expect(tracks.count == 2)
        let timescales = try tracks.map { try #require($0.descendant("mdia", "mdhd")).decodeMediaTimescale() }
        #expect(timescales == [90_000, 48_000])
        let handlers = try tracks.map { try #require($0.descendant("mdia", "hdlr")).decodeHandlerType() }
        #expect(handlers == ["vide", "soun"])
        let header = try #require(tracks.first?.child("tkhd")).decodeTrackHeader()
        #expect(header.width >> 16 == 640)
        #expect(header.height >> 16 == 360)
    }

    @Test("audio held back for the next video frame is written in that frame's chunk, before it")
    func audioBeforeVideo() throws {
        var muxer = try CodecFixtures.muxer()
        let frames = SyntheticStream().frames(seconds: 0.1)
        let video = try #require(frames.first { $0.track == .video })
        let audio = frames.filter { $0.track == .audio }
        let chunk = muxer.chunk(video: video, audio: audio)
        let runs = try chunkRuns(in: chunk)
        #expect(runs.map(\.trackID) == [2, 1])
        #expect(runs.first?.samples.map(\.data) == audio.map(\.data.bytes))
        #expect(runs.last?.samples.map(\.data) == [video.data.bytes])
    }
}
