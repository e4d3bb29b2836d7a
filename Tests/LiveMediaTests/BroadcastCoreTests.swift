import Foundation
import LiveMedia
import MediaFormats
import NIOCore
import Testing

/// The hub's state machine, driven by events and instants only: no broadcast, no locks, no sleeps.
@Suite("Broadcast core")
struct BroadcastCoreTests {
    /// One action in a form a test can compare: `configure→0`, `frame video K 3000→1`, `interrupt→0`, `end→0`,
    /// `detach 1 fellBehind`, `log timestampJump`.
    static func describe(_ actions: [BroadcastCore.Action]) -> [String] {
        actions.map { action in
            switch action {
            case let .deliver(delivery, to: id):
                let target = "→\(id.number)"
                switch delivery {
                case let .configure(video, audio, _): return "configure\(video == nil ? "" : " video")\(audio == nil ? "" : " audio")" + target
                case let .frame(frame, afterJump):
                    return "frame \(frame.track == .video ? "video" : "audio")\(frame.isKeyframe && frame.track == .video ? " K" : "")"
                        + " \(frame.dts)\(afterJump ? " jump" : "")" + target
                case .interrupt: return "interrupt" + target
                case .end: return "end" + target
                }
            case let .detach(id, reason): return "detach \(id.number) \(reason)"
            case let .log(line):
                switch line {
                case .badVideoConfiguration: return "log badVideoConfiguration"
                case .badAudioConfiguration: return "log badAudioConfiguration"
                case .timestampJump: return "log timestampJump"
                }
            }
        }
    }

    static func video(_ dts: Int64, key: Bool = false) -> MediaFrame {
        MediaFrame(track: .video, pts: dts, dts: dts, isKeyframe: key, data: ByteBuffer(bytes: [0, 0, 0, 1, key ? 0x65 : 0x41]))
    }

    static func audio(_ dts: Int64) -> MediaFrame {
        MediaFrame(track: .audio, pts: dts, dts: dts, isKeyframe: true, data: ByteBuffer(bytes: [0x21, 0x10]))
    }

    /// A core with codecs announced and one subscriber (id 0).
    static func configured(policy: BroadcastOverflowPolicy = .neverFull) -> (BroadcastCore, BroadcastSubscriberID) {
        var core = BroadcastCore(startedAt: testEpoch, jumpThreshold: 10)
        let (id, actions) = core.subscribe(policy: policy)
        #expect(actions.isEmpty, "nothing to hear before the stream starts")
        #expect(core.ingest(.videoConfiguration(CodecFixtures.avcHigh720p), now: testEpoch).isEmpty)
        #expect(core.ingest(.audioConfiguration(CodecFixtures.aacStereo48k), now: testEpoch).isEmpty)
        return (core, id)
    }

    /// Feeds a frame at the wall-clock instant its timestamp names (the first keyframe is at media time 0).
    static func feed(_ core: inout BroadcastCore, _ frame: MediaFrame) -> [String] {
        describe(core.ingest(.frame(frame), now: testEpoch.addingTimeInterval(Double(frame.dts) / 90_000)))
    }

    @Test("frames before the first keyframe go to nobody; the codecs reach each subscriber just before that keyframe")
    func startsAtKeyframe() {
        var (core, _) = Self.configured()
        #expect(Self.feed(&core, Self.audio(0)).isEmpty)
        #expect(Self.feed(&core, Self.video(0)).isEmpty)
        #expect(!core.isStarted)
        // The clock is anchored at the first keyframe, which takes media time 0; later frames keep their spacing.
        #expect(Self.feed(&core, Self.video(3000, key: true)) == ["configure video audio→0", "frame video K 0→0"])
        #expect(core.isStarted)
        #expect(core.clock == StreamClock(anchorMediaTime: 0, anchorWallClock: testEpoch.addingTimeInterval(3000.0 / 90_000)))
        #expect(Self.feed(&core, Self.audio(4000)) == ["frame audio 1000→0"])
        #expect(Self.feed(&core, Self.video(6000)) == ["frame video 3000→0"])
        #expect(core.stats.videoFrames == 3, "statistics count every frame the publisher sent")
    }

    @Test("an audio-only stream starts once 50 audio frames came with no video configuration")
    func audioOnly() {
        var core = BroadcastCore(startedAt: testEpoch, jumpThreshold: 10)
        _ = core.subscribe(policy: .neverFull)
        _ = core.ingest(.audioConfiguration(CodecFixtures.aacStereo48k), now: testEpoch)
        for n in 0..<50 { #expect(Self.feed(&core, Self.audio(Int64(n) * 1920)).isEmpty) }
        #expect(Self.feed(&core, Self.audio(50 * 1920)) == ["configure audio→0", "frame audio 0→0"])
    }

    @Test("a subscriber joining a started stream hears the codecs at once and gets frames from the next keyframe")
    func lateJoin() {
        var (core, first) = Self.configured()
        _ = Self.feed(&core, Self.video(0, key: true))
        let (late, actions) = core.subscribe(policy: .dropSubscriber)
        #expect(Self.describe(actions) == ["configure video audio→\(late.number)"])
        #expect(Self.feed(&core, Self.video(3000)) == ["frame video 3000→\(first.number)"])
        #expect(Self.feed(&core, Self.audio(4000)) == ["frame audio 4000→\(first.number)"])
        #expect(Self.feed(&core, Self.video(6000, key: true)) == ["frame video K 6000→\(first.number)", "frame video K 6000→\(late.number)"])
        #expect(core.subscriberCount == 2)
    }

    @Test("a full subscriber whose policy is to be dropped is detached; the others keep every frame")
    func dropWhenFull() {
        var (core, steady) = Self.configured()
        let (slow, _) = core.subscribe(policy: .dropSubscriber)
        _ = Self.feed(&core, Self.video(0, key: true))
        #expect(Self.describe(core.overflowed(slow)) == ["detach \(slow.number) fellBehind"])
        #expect(Self.feed(&core, Self.video(3000)) == ["frame video 3000→\(steady.number)"])
        #expect(core.overflowed(slow).isEmpty, "a detached subscriber is gone")
        #expect(core.subscriberCount == 1)
    }

    @Test("a full subscriber whose policy is to skip gets nothing until the next keyframe, then carries on from it")
    func skipToKeyframe() {
        var (core, steady) = Self.configured()
        let (skipper, _) = core.subscribe(policy: .skipToKeyframe)
        _ = Self.feed(&core, Self.video(0, key: true))
        #expect(core.overflowed(skipper).isEmpty)
        #expect(Self.feed(&core, Self.video(3000)) == ["frame video 3000→\(steady.number)"])
        #expect(Self.feed(&core, Self.audio(4000)) == ["frame audio 4000→\(steady.number)"])
        #expect(Self.feed(&core, Self.video(6000, key: true)) == ["frame video K 6000→\(steady.number)", "frame video K 6000→\(skipper.number)"])
        #expect(Self.feed(&core, Self.audio(7000)) == ["frame audio 7000→\(steady.number)", "frame audio 7000→\(skipper.number)"])
    }

    @Test("a lost publisher interrupts every subscriber; a grace timer from before a reconnect cannot end the broadcast")
    func publisherLifecycle() {
        var (core, id) = Self.configured()
        _ = Self.feed(&core, Self.video(0, key: true))
        let (generation, lost) = core.publisherLost()
        #expect(Self.describe(lost) == ["interrupt→\(id.number)"])
        #expect(!core.publisherConnected)
        core.publisherBack()
        #expect(core.end(ifGeneration: generation) == nil, "the publisher came back")
        #expect(!core.ended)
        let (again, _) = core.publisherLost()
        #expect(core.end(ifGeneration: again).map(Self.describe) == ["end→\(id.number)", "detach \(id.number) ended"])
        #expect(core.ended && core.subscriberCount == 0)
        #expect(Self.feed(&core, Self.video(9000, key: true)).isEmpty, "nothing after the end")
        let (late, actions) = core.subscribe(policy: .dropSubscriber)
        #expect(Self.describe(actions) == ["detach \(late.number) ended"])
    }

    @Test("after a reconnect the codecs are announced again before the first keyframe, and frames continue the timeline")
    func reconnect() {
        var (core, id) = Self.configured()
        for n in 0..<30 { _ = Self.feed(&core, Self.video(Int64(n) * 3000, key: n == 0)) }
        _ = core.publisherLost()
        core.publisherBack()
        // Two seconds later, the new publisher starts again from zero.
        let now = testEpoch.addingTimeInterval(3)
        #expect(Self.describe(core.ingest(.frame(Self.video(0)), now: now)) == ["frame video \(3 * 90_000)→\(id.number)"])
        let key = Self.describe(core.ingest(.frame(Self.video(3000, key: true)), now: now.addingTimeInterval(1.0 / 30)))
        #expect(key == ["configure video audio→\(id.number)", "frame video K \(3 * 90_000 + 3000)→\(id.number)"])
    }

    @Test("a timestamp jump reaches subscribers with the frame and is logged at most once every ten seconds")
    func jumps() {
        var (core, id) = Self.configured()
        var dts: Int64 = 0
        var logged = 0
        var jumped = 0
        // A publisher whose clock leaps an hour every second, for 30 s.
        for n in 0..<900 {
            if n > 0, n % 30 == 0 { dts += 3600 * 90_000 }
            let now = testEpoch.addingTimeInterval(Double(n) / 30)
            let actions = Self.describe(core.ingest(.frame(Self.video(dts, key: n % 30 == 0)), now: now))
            logged += actions.filter { $0 == "log timestampJump" }.count
            jumped += actions.filter { $0.hasSuffix("jump→\(id.number)") }.count
            dts += 3000
        }
        #expect(jumped == 29)
        #expect(logged == 3)
    }

    @Test("a bad codec configuration is logged and changes nothing")
    func badConfiguration() {
        var (core, id) = Self.configured()
        #expect(Self.describe(core.ingest(.videoConfiguration([1, 2, 3]), now: testEpoch)) == ["log badVideoConfiguration"])
        #expect(Self.describe(core.ingest(.audioConfiguration([]), now: testEpoch)) == ["log badAudioConfiguration"])
        #expect(Self.feed(&core, Self.video(0, key: true)) == ["configure video audio→\(id.number)", "frame video K 0→\(id.number)"])
    }

    @Test("a subscriber that leaves hears it once and gets nothing more")
    func leave() {
        var (core, id) = Self.configured()
        #expect(Self.describe(core.unsubscribe(id)) == ["detach \(id.number) left"])
        #expect(core.unsubscribe(id).isEmpty)
        #expect(Self.feed(&core, Self.video(0, key: true)).isEmpty)
    }
}
