import Foundation
import LiveMedia
import MediaFormats
import NIOCore
import Testing

@testable import LiveloopServer

/// A WHEP feed with no viewers keeps frames by itself instead of waking the WebRTC loop for each: these check that it
/// keeps exactly what a first viewer needs, within bounds.
@Suite("a parked WebRTC feed keeps what the first viewer needs")
struct WebRTCFeedParkingTests {
    static func video(_ pts: Int64, keyframe: Bool, bytes: Int = 100) -> BroadcastDelivery {
        .frame(MediaFrame(track: .video, pts: pts, dts: pts, isKeyframe: keyframe, data: ByteBuffer(repeating: 0, count: bytes)), afterJump: false)
    }

    static func audio(_ pts: Int64) -> BroadcastDelivery {
        .frame(MediaFrame(track: .audio, pts: pts, dts: pts, isKeyframe: true, data: ByteBuffer(repeating: 0, count: 10)), afterJump: false)
    }

    static func times(_ parked: WebRTCFeed.Parked) -> [Int64] {
        parked.frames.compactMap { if case let .frame(frame, _) = $0 { frame.pts } else { nil } }
    }

    @Test("from the last keyframe on, video only; what came before it is dropped")
    func keepsTheLastGroup() {
        var parked = WebRTCFeed.Parked()
        for delivery in [Self.video(0, keyframe: false), Self.audio(1), Self.video(2, keyframe: true), Self.audio(3),
                         Self.video(4, keyframe: false), .interrupt, Self.video(6, keyframe: true), Self.video(8, keyframe: false)] {
            #expect(WebRTCFeed.keep(delivery, in: &parked) == .kept)
        }
        #expect(Self.times(parked) == [6, 8])
        #expect(parked.resetGOP)
        #expect(parked.bytes == 200)
    }

    @Test("frames after parking with no keyframe yet continue the hub's group")
    func continuesTheHubsGroup() {
        var parked = WebRTCFeed.Parked()
        _ = WebRTCFeed.keep(Self.video(10, keyframe: false), in: &parked)
        _ = WebRTCFeed.keep(Self.video(11, keyframe: false), in: &parked)
        #expect(Self.times(parked) == [10, 11])
        #expect(!parked.resetGOP)
        #expect(parked.configure == nil)
    }

    @Test("a new configuration starts over; the end still goes to the hub")
    func configureAndEnd() {
        var parked = WebRTCFeed.Parked()
        _ = WebRTCFeed.keep(Self.video(0, keyframe: true), in: &parked)
        let clock = StreamClock(anchorMediaTime: 0, anchorWallClock: .now)
        _ = WebRTCFeed.keep(.configure(video: nil, audio: nil, clock: clock), in: &parked)
        #expect(parked.frames.isEmpty)
        #expect(parked.configure != nil)
        #expect(parked.deliveries.count == 1)
        #expect(WebRTCFeed.keep(.end, in: &parked) == .forward)
    }

    @Test("past the group limits it drops frames until the next keyframe")
    func bounded() {
        var parked = WebRTCFeed.Parked()
        _ = WebRTCFeed.keep(Self.video(0, keyframe: true, bytes: 8 << 20), in: &parked)
        _ = WebRTCFeed.keep(Self.video(1, keyframe: false, bytes: 8 << 20), in: &parked)
        _ = WebRTCFeed.keep(Self.video(2, keyframe: false, bytes: 1), in: &parked)
        #expect(parked.frames.isEmpty)
        #expect(parked.overflowed)
        _ = WebRTCFeed.keep(Self.video(3, keyframe: false), in: &parked)
        #expect(parked.frames.isEmpty)
        _ = WebRTCFeed.keep(Self.video(4, keyframe: true), in: &parked)
        #expect(Self.times(parked) == [4])
        #expect(!parked.overflowed)
    }
}
