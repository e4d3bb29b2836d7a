import Foundation
import LiveMedia
import Logging
import MediaFormats
import NIOCore
import Testing

/// The relay between nodes (docs/cluster.md): one broadcast's deliveries and cues through the wire format into a
/// relayed broadcast on another node, which must then say what the origin says.
@Suite("Relay between nodes")
struct RelayTests {
    /// The relayed broadcast fed from `bytes`, split into chunks of `chunk` bytes as a network would.
    static func replay(_ bytes: ByteBuffer, chunk: Int, into edge: Broadcast) throws -> (records: Int, cues: Int) {
        var pending = ByteBuffer()
        var input = bytes
        var records = 0, cues = 0
        while input.readableBytes > 0 {
            guard var slice = input.readSlice(length: min(chunk, input.readableBytes)) else { break }
            pending.writeBuffer(&slice)
            while let record = try RelayCodec.decode(from: &pending) {
                records += 1
                switch record {
                case let .delivery(delivery): edge.relay(delivery, now: testEpoch)
                case let .cue(cue): cues += 1; edge.relayCue(cue)
                case .heartbeat: break
                }
            }
        }
        #expect(pending.readableBytes == 0, "nothing left over")
        return (records, cues)
    }

    /// Everything a feed queued until it closed, as one buffer (what the origin's response would have written).
    static func wire(_ feed: NodeRelayFeed) async -> ByteBuffer {
        var wire = ByteBuffer()
        for await chunk in feed.stream {
            var chunk = chunk
            feed.written(chunk.readableBytes)
            wire.writeBuffer(&chunk)
        }
        return wire
    }

    static func lines(_ playlist: String, _ prefix: String) -> [String] {
        playlist.split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix) }
    }

    @Test("a relay joining mid-stream: the edge has the origin's clock, its program dates, its cues (earlier ones too), and ends when it ends")
    func relayedBroadcastMatchesOrigin() async throws {
        var origin = try BroadcastFeed()
        let frames = SyntheticStream().frames(seconds: 8)
        let (first, rest) = frames.split(at: 2.2)
        origin.ingest(first)
        // Added before the relay joins, for a moment the relay will carry (the edge's first keyframe is at 3 s).
        let early = try #require(origin.broadcast.cueStamp(at: testEpoch.addingTimeInterval(3.5)))
        #expect(origin.broadcast.addCue(BroadcastCueTests.cue("before-the-relay", early)))

        // What the origin's relay route does: attach a feed, send the recent cues, then tap new ones.
        let feed = NodeRelayFeed()
        origin.broadcast.attach(feed)
        let (recent, handle) = origin.broadcast.tapCues { feed.send(.cue($0)) }
        for cue in recent { feed.send(.cue(cue)) }
        let (middle, last) = Array(rest).split(at: 5)
        origin.ingest(middle)
        let stamp = try #require(origin.broadcast.cueStamp(at: testEpoch.addingTimeInterval(4)))
        #expect(origin.broadcast.addCue(BroadcastCueTests.cue("during-the-relay", stamp, kind: "poll.launch")))
        origin.ingest(last)
        origin.broadcast.untapCues(handle)
        #expect(origin.broadcast.end())

        let wire = await Self.wire(feed)
        let edge = Broadcast(channel: "demo", configuration: HLSConfiguration(), startedAt: testEpoch.addingTimeInterval(2.2),
                             relayedFrom: "node-a", logger: Logger(label: "test"))
        let (records, cues) = try Self.replay(wire, chunk: 777, into: edge)
        #expect(records > 300 && cues == 2)

        #expect(edge.streamClock == origin.broadcast.streamClock, "the edge keeps the origin's stream clock")
        #expect(edge.hasEnded && edge.relayedFrom == "node-a")
        let originPlaylist = try await origin.broadcast.playlist(PlaylistRequest())
        let edgePlaylist = try await edge.playlist(PlaylistRequest())
        #expect(edgePlaylist.contains("#EXT-X-ENDLIST"))
        // The edge packages from the first keyframe it got (3 s) on the origin's clock: its segments start at the
        // program dates the origin gives those media times (each node cuts its own segments), and end where it ends.
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let edgeDates = Self.lines(edgePlaylist, "#EXT-X-PROGRAM-DATE-TIME:").compactMap { format.date(from: String($0.dropFirst(25))) }
        let clock = try #require(origin.broadcast.streamClock)
        #expect(edgeDates.map { $0.timeIntervalSince(testEpoch) } == [3, 5, 7], "\(edgePlaylist)")
        #expect(edgeDates.first == clock.wallClock(atMediaTime: 3 * 90_000))
        let seconds = Self.lines(edgePlaylist, "#EXTINF:").compactMap { Double($0.dropFirst(8).dropLast()) }.reduce(0, +)
        #expect(abs(seconds - 5) < 0.05, "3 s to 8 s: \(seconds)")
        // Both cues, with the origin's dates and media times.
        #expect(Self.lines(edgePlaylist, "#EXT-X-DATERANGE") == Self.lines(originPlaylist, "#EXT-X-DATERANGE"))
        #expect(Self.lines(edgePlaylist, "#EXT-X-DATERANGE").count == 2)
    }

    @Test("the origin's publisher dropping and coming back: the edge is interrupted, then goes on after a discontinuity")
    func interruption() async throws {
        var origin = try BroadcastFeed()
        let feed = NodeRelayFeed()
        origin.broadcast.attach(feed)
        origin.ingest(SyntheticStream().frames(seconds: 3))
        _ = origin.broadcast.publisherDisconnected()
        origin.broadcast.publisherReconnected()
        origin.broadcast.ingest(.videoConfiguration(CodecFixtures.avcHigh720p), now: testEpoch.addingTimeInterval(5))
        origin.broadcast.ingest(.audioConfiguration(CodecFixtures.aacStereo48k), now: testEpoch.addingTimeInterval(5))
        for frame in SyntheticStream().frames(seconds: 3) {
            origin.broadcast.ingest(.frame(frame), now: testEpoch.addingTimeInterval(5 + Double(frame.dts) / 90_000))
        }
        origin.broadcast.end()
        let wire = await Self.wire(feed)
        let edge = Broadcast(channel: "demo", configuration: HLSConfiguration(), startedAt: testEpoch, relayedFrom: "node-a", logger: Logger(label: "test"))
        _ = try Self.replay(wire, chunk: 4096, into: edge)
        let originPlaylist = try await origin.broadcast.playlist(PlaylistRequest())
        let edgePlaylist = try await edge.playlist(PlaylistRequest())
        #expect(edgePlaylist.contains("#EXT-X-DISCONTINUITY"))
        #expect(Self.lines(edgePlaylist, "#EXT-X-PROGRAM-DATE-TIME") == Self.lines(originPlaylist, "#EXT-X-PROGRAM-DATE-TIME"))
    }

    @Test("a publisher here takes a relayed broadcast over: the same broadcast goes on after a discontinuity, on the same clock, and the old origin is ignored")
    func takeOver() async throws {
        var origin = try BroadcastFeed()
        let feed = NodeRelayFeed()
        origin.broadcast.attach(feed)
        origin.ingest(SyntheticStream().frames(seconds: 4))
        _ = origin.broadcast.publisherDisconnected()
        feed.close()
        let wire = await Self.wire(feed)

        let registry = BroadcastRegistry(configuration: HLSConfiguration(), gracePeriod: .seconds(30), logger: Logger(label: "test"))
        let edge = try #require(registry.beginRelaying(channel: "demo", from: "node-a", now: testEpoch))
        _ = try Self.replay(wire, chunk: 4096, into: edge)
        registry.relayLeft(edge)
        #expect(!edge.isLive && !edge.hasEnded, "waiting within the grace period")
        let lastRelayed = try #require(try await edge.playlist(PlaylistRequest()).split(separator: "\n").last { $0.hasPrefix("#EXT-X-PROGRAM-DATE-TIME") })

        guard case let .resumed(taken) = registry.beginPublishing(channel: "demo", now: testEpoch.addingTimeInterval(6)) else {
            Issue.record("the publisher here did not continue the relayed broadcast")
            return
        }
        #expect(taken === edge && taken.relayedFrom == nil && taken.isLive)
        #expect(registry.beginRelaying(channel: "demo", from: "node-a", now: testEpoch.addingTimeInterval(6)) == nil, "no relay over a publisher here")
        taken.relay(.end, now: testEpoch)
        #expect(!taken.hasEnded, "what the old origin sends is ignored")
        taken.ingest(.videoConfiguration(CodecFixtures.avcHigh720p), now: testEpoch.addingTimeInterval(6))
        taken.ingest(.audioConfiguration(CodecFixtures.aacStereo48k), now: testEpoch.addingTimeInterval(6))
        for frame in SyntheticStream().frames(seconds: 4) {
            taken.ingest(.frame(frame), now: testEpoch.addingTimeInterval(6 + Double(frame.dts) / 90_000))
        }
        taken.end()
        let text = try await taken.playlist(PlaylistRequest())
        #expect(text.contains("#EXT-X-DISCONTINUITY") && text.contains("#EXT-X-ENDLIST"))
        #expect(taken.streamClock == origin.broadcast.streamClock, "the stream clock is the origin's still")
        let dates = Self.lines(text, "#EXT-X-PROGRAM-DATE-TIME")
        #expect(dates.contains(String(lastRelayed)) && dates.last.map { $0 > String(lastRelayed) } == true, "the timeline goes on after the relayed part")
    }

    @Test("bad bytes on the wire are refused: an unknown record, an oversized length, a short record; a partial one waits")
    func badInput() throws {
        var unknown = ByteBuffer(bytes: [9, 0, 0, 0, 0])
        #expect(throws: RelayCodec.DecodeError.unknownType(9)) { try RelayCodec.decode(from: &unknown) }
        var huge = ByteBuffer(bytes: [2, 0x7f, 0xff, 0xff, 0xff])
        #expect(throws: RelayCodec.DecodeError.tooLarge(0x7fff_ffff)) { try RelayCodec.decode(from: &huge) }
        var short = ByteBuffer(bytes: [2, 0, 0, 0, 3, 0, 1, 2])
        #expect(throws: RelayCodec.DecodeError.self) { try RelayCodec.decode(from: &short) }
        var partial = ByteBuffer(bytes: [2, 0, 0, 0, 40, 0, 1])
        #expect(try RelayCodec.decode(from: &partial) == nil)
        #expect(partial.readableBytes == 7, "nothing taken from an incomplete record")
    }

    @Test("a relay that cannot keep up is detached once its queue is full; ingest goes on")
    func slowRelay() throws {
        var origin = try BroadcastFeed()
        let feed = NodeRelayFeed(limit: 4096)
        origin.broadcast.attach(feed)
        origin.ingest(SyntheticStream().frames(seconds: 4))
        #expect(!feed.send(.heartbeat), "the feed was closed when it filled")
        #expect(origin.broadcast.stats.videoFrames > 100)
    }
}
