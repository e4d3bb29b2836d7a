import Foundation
import LiveMedia
import Logging
@testable import LiveloopServer
import MediaFormats
import NIOCore
import Storage
import Testing

@Suite("multistream rules: destination URLs, keys, the relay's queue")
struct DestinationRulesTests {
    @Test("platform ingest URLs parse into host, port and application", arguments: [
        ("rtmp://a.rtmp.youtube.com/live2", DestinationURL.Scheme.rtmp, "a.rtmp.youtube.com", 1935, "live2"),
        ("rtmps://live-api-s.facebook.com:443/rtmp/", .rtmps, "live-api-s.facebook.com", 443, "rtmp"),
        ("RTMP://Live.Twitch.TV/app", .rtmp, "live.twitch.tv", 1935, "app"),
        ("rtmps://example.com/live", .rtmps, "example.com", 443, "live"),
        ("rtmp://203.0.113.7:1936/live/sub", .rtmp, "203.0.113.7", 1936, "live/sub"),
    ])
    func goodURLs(text: String, scheme: DestinationURL.Scheme, host: String, port: Int, app: String) throws {
        let url = try DestinationURL(text, allowPrivateAddresses: false)
        #expect(url.scheme == scheme)
        #expect(url.host == host)
        #expect(url.port == port)
        #expect(url.app == app)
        #expect(url.tcURL == "\(scheme.rawValue)://\(host):\(port)/\(app)")
    }

    @Test("bad destination URLs are refused with the reason", arguments: [
        ("http://example.com/live", DestinationURL.Refusal.scheme),
        ("srt://example.com:9000", .scheme),
        ("rtmp://example.com", .missingApp),
        ("rtmp://example.com/", .missingApp),
        ("rtmp://user:pass@example.com/live", .credentials),
        ("rtmp://example.com/live?key=1", .queryOrFragment),
        ("rtmp://example.com:0/live", .port),
        ("rtmp://example.com:70000/live", .port),
        ("rtmp://example.com:/live", .port),
        ("rtmp:///live", .malformed),
        ("rtmp://exa mple.com/live", .malformed),
        ("not a url", .malformed),
        ("rtmp://127.0.0.1/live", .privateAddress("127.0.0.1")),
        ("rtmp://10.1.2.3:1935/live", .privateAddress("10.1.2.3")),
        ("rtmp://[::1]/live", .privateAddress("::1")),
        ("rtmp://169.254.169.254/live", .privateAddress("169.254.169.254")),
        ("rtmp://example.com/" + String(repeating: "a", count: 1100), .tooLong),
    ])
    func badURLs(text: String, refusal: DestinationURL.Refusal) {
        #expect(throws: refusal) { try DestinationURL(text, allowPrivateAddresses: false) }
    }

    @Test("private addresses are allowed only when the server says so")
    func privateAllowed() throws {
        #expect(try DestinationURL("rtmp://127.0.0.1:1935/live", allowPrivateAddresses: true).host == "127.0.0.1")
    }

    @Test("a key is shown by its last four characters at most, and never in its description")
    func masking() {
        let key = DestinationKey("live_1234567890abcd")
        #expect(key.masked == "••••abcd")
        #expect("\(key)" == "••••abcd")
        #expect(String(reflecting: key) == "••••abcd")
        #expect(DestinationKey("short").masked == "••••")
        #expect(RelayFailure.describe(RelayFailure.other("publish refused: NetStream.Publish.BadName live_1234567890abcd"),
                                      key: key.revealed) == "publish refused: NetStream.Publish.BadName ••••")
    }

    @Test("keys and names outside the rules are refused", arguments: ["", "has space", "tab\there", String(repeating: "k", count: 513), "ключ"])
    func badKeys(key: String) {
        #expect(throws: APIError.self) { try DestinationFields.checkKey(key) }
    }

    static func frame(_ index: Int, keyframe: Bool, size: Int = 100) -> BroadcastDelivery {
        .frame(MediaFrame(track: .video, pts: Int64(index) * 3000, dts: Int64(index) * 3000, isKeyframe: keyframe,
                          data: ByteBuffer(repeating: 0, count: size)), afterJump: false)
    }

    @Test("the relay queue refuses frames past its count or byte limit, but always takes the end")
    func queueLimits() {
        var queue = RelayQueue(limit: 3, byteLimit: 250)
        var taken: [Bool] = []
        taken.append(queue.offer(Self.frame(0, keyframe: true)))
        taken.append(queue.offer(Self.frame(1, keyframe: false)))
        taken.append(queue.offer(Self.frame(2, keyframe: false)))  // a third 100-byte frame passes 250 bytes
        taken.append(queue.offer(.interrupt))
        #expect(taken == [true, true, false, true])
        #expect(queue.takeAll().count == 3)
        taken = []
        #expect(queue.bytes == 0)
        taken.append(queue.offer(Self.frame(3, keyframe: false, size: 50)))
        taken.append(queue.offer(Self.frame(4, keyframe: false, size: 50)))
        taken.append(queue.offer(Self.frame(5, keyframe: false, size: 50)))
        taken.append(queue.offer(Self.frame(6, keyframe: false, size: 50)))  // a fourth delivery passes the count
        taken.append(queue.offer(.end))
        #expect(taken == [true, true, true, false, true])
        #expect(queue.finished)
    }

    @Test("a full relay feed makes the broadcast skip it to the next keyframe after it drains")
    func skipToKeyframe() async throws {
        let broadcast = Broadcast(channel: "c", configuration: HLSConfiguration(), startedAt: Date(), logger: .init(label: "t"))
        let feed = RelayFeed(limit: 4, byteLimit: 1 << 20)
        broadcast.attach(feed)
        let avcC: [UInt8] = [1, 0x64, 0, 0x1E, 0xFF, 0xE1, 0, 4, 0x67, 0x64, 0, 0x1E, 1, 0, 4, 0x68, 0xEE, 0x3C, 0x80]
        broadcast.ingest(.videoConfiguration(avcC), now: Date())
        // 10 frames, a keyframe every 5: the feed holds the configuration and three frames, then is full.
        for index in 0..<10 {
            broadcast.ingest(.frame(MediaFrame(track: .video, pts: Int64(index) * 3000, dts: Int64(index) * 3000, isKeyframe: index % 5 == 0,
                                               data: ByteBuffer(repeating: 1, count: 10))), now: Date())
        }
        let first = await feed.next()
        guard case .configure = first.first else { Issue.record("configuration first: \(first)"); return }
        #expect(first.count == 4)
        // Frames 3–9 found it full (the keyframe at 5 too), so it waits for the next keyframe after the drain.
        broadcast.ingest(.frame(MediaFrame(track: .video, pts: 30000, dts: 30000, isKeyframe: false, data: ByteBuffer(repeating: 1, count: 10))), now: Date())
        broadcast.ingest(.frame(MediaFrame(track: .video, pts: 33000, dts: 33000, isKeyframe: true, data: ByteBuffer(repeating: 1, count: 10))), now: Date())
        let second = await feed.next()
        guard case let .frame(resumed, _)? = second.first else { Issue.record("a frame: \(second)"); return }
        #expect(resumed.isKeyframe, "it resumes at a keyframe")
        #expect(second.count == 1)
    }
}
