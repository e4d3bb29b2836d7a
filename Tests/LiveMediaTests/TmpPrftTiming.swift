import Foundation
import LiveMedia
import MediaFormats
import NIOCore
import Testing

@Test("tmp prft timing") func tmpPrftTiming() throws {
    let clip = try DemoClip()
    let video = clip.frames.filter { $0.track == .video }
    let clock = StreamClock(anchorMediaTime: 0, anchorWallClock: testEpoch)
    for round in 0..<3 {
        for withClock in [false, true] {
            var muxer = try clip.muxer()
            var bytes = 0
            let start = ContinuousClock.now
            for _ in 0..<20 { for frame in video { bytes += muxer.chunk(video: frame, audio: [], clock: withClock ? clock : nil).readableBytes } }
            print("round \(round) clock=\(withClock) \(ContinuousClock.now - start) bytes=\(bytes)")
        }
    }
}
