import Foundation
import LiveMedia
import MediaFormats
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
