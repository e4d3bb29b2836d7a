import Foundation
import LiveMedia
import MediaFormats
import NIOCore
import Testing

@Suite("Broadcast cues")
struct BroadcastCueTests {
    static func cue(_ id: String, _ stamp: (mediaTime: Int64, programDate: Date), kind: String = "quiz.show") -> MediaCue {
        MediaCue(
            id: id, kind: kind, mediaTime: stamp.mediaTime, programDate: stamp.programDate, duration: 10,
            attributes: ["question": "7"], payload: Array(#"{"question":7}"#.utf8))
    }

    @Test("cueStamp is nil before the first frame, then the stream clock's reading of now; addCue needs the clock")
    func stamps() throws {
        var feed = try BroadcastFeed()
        #expect(feed.broadcast.cueStamp(at: testEpoch) == nil)
        let early = MediaCue(id: "x", kind: "poll.launch", mediaTime: 0, programDate: testEpoch)
        #expect(!feed.broadcast.addCue(early))
        let frames = SyntheticStream().frames(seconds: 3)
        feed.ingest(frames)
        let clock = try #require(feed.broadcast.streamClock)
        for seconds in [0.0, 1.25, 2.999, 3.5, 60] {
            let now = testEpoch.addingTimeInterval(seconds)
            let stamp = try #require(feed.broadcast.cueStamp(at: now))
            #expect(stamp.mediaTime == clock.mediaTime(at: now))
            #expect(stamp.programDate == clock.wallClock(atMediaTime: stamp.mediaTime))
            #expect(abs(stamp.programDate.timeIntervalSince(now)) <= 1.0 / 90_000)
        }
        // The last frame was ingested at its own media time: the stamp of that moment is that frame's.
        let last = try #require(frames.last)
        #expect(feed.broadcast.cueStamp(at: BroadcastFeed.time(of: last))?.mediaTime == last.dts)
        let during = try #require(feed.broadcast.cueStamp(at: testEpoch.addingTimeInterval(2)))
        #expect(feed.broadcast.addCue(Self.cue("q", during)))
        #expect(feed.broadcast.end())
        let after = try #require(feed.broadcast.cueStamp(at: testEpoch.addingTimeInterval(3)))
        #expect(!feed.broadcast.addCue(Self.cue("after-end", after)), "an ended broadcast takes no cue")
    }

    @Test("a WebSocket subscriber gets the cue's emsg in the first fragment after addCue, the same bytes as the part")
    func liveSubscriber() async throws {
        var feed = try BroadcastFeed()
        let (first, rest) = SyntheticStream().frames(seconds: 6).split(at: 2.5)
        feed.ingest(first)
        let replayed = (feed.reference.packager.openSegment?.parts ?? []).filter { $0.bytes.readableBytes > 0 }.count
        let stream = feed.broadcast.subscribeLive()
        let lastFrame = try #require(first.last)
        let stamp = try #require(feed.broadcast.cueStamp(at: BroadcastFeed.time(of: lastFrame)))
        let cue = Self.cue("quiz-7", stamp)
        #expect(feed.broadcast.addCue(cue))
        let index = feed.reference.events.count
        feed.ingest(rest)
        #expect(feed.broadcast.end())

        var media: [ByteBuffer] = []
        for await fragment in stream {
            if case let .media(bytes) = fragment { media.append(bytes) }
        }
        #expect(media.count > replayed + 50)
        let withCue = try #require(media.firstIndex { (try? eventMessages(in: $0).isEmpty) == false })
        #expect(withCue == replayed, "the first fragment packaged after addCue")
        #expect(try media.filter { try !eventMessages(in: $0).isEmpty }.count == 1)
        let emsg = try #require(try eventMessages(in: media[withCue]).first)
        #expect(emsg.presentationTime == UInt64(stamp.mediaTime))
        #expect(emsg.value == "quiz.show")
        #expect(emsg.id == cue.eventID)
        #expect(emsg.eventDuration == 900_000)
        #expect(emsg.messageData == cue.payload)
        #expect(try media.allSatisfy { try topLevelTypes($0).first == "prft" })

        // The HLS part the chunk went into holds the same bytes.
        let (msn, part, _) = try #require(feed.reference.chunks(since: index).first)
        guard case let .complete(bytes) = feed.broadcast.part(msn: msn, index: part) else {
            Issue.record("part \(msn).\(part) is complete")
            return
        }
        #expect(try eventMessages(in: bytes) == [emsg])
        let playlist = MediaPlaylist(try await feed.broadcast.playlist(PlaylistRequest()))
        #expect(playlist.dateRanges["quiz-7"]?["X-LIVELOOP-QUESTION"] == "7")
        #expect(playlist.dateRanges["quiz-7"]?["DURATION"] == "10.000")
    }

    @Test("across a publisher reconnect, cue stamps keep counting with the wall clock and land on the new frames' timeline")
    func acrossReconnect() async throws {
        var feed = try BroadcastFeed()
        let frames = SyntheticStream().frames(seconds: 3)
        feed.ingest(frames)
        let end = BroadcastFeed.time(of: try #require(frames.last))
        let before = try #require(feed.broadcast.cueStamp(at: end))
        #expect(feed.broadcast.addCue(Self.cue("before", before)))
        _ = feed.broadcast.publisherDisconnected()
        let gap = try #require(feed.broadcast.cueStamp(at: end.addingTimeInterval(2)))
        #expect(gap.mediaTime == before.mediaTime + 2 * 90_000)

        // The new publisher's timestamps start again from zero, four seconds later.
        feed.broadcast.publisherReconnected()
        let restart = end.addingTimeInterval(4)
        feed.broadcast.ingest(.videoConfiguration(CodecFixtures.avcHigh720p), now: restart)
        feed.broadcast.ingest(.audioConfiguration(CodecFixtures.aacStereo48k), now: restart)
        let again = SyntheticStream().frames(seconds: 4, serial: 1_000_000)
        let (head, tail) = again.split(at: 1.5)
        for frame in head { feed.broadcast.ingest(.frame(frame), now: restart.addingTimeInterval(Double(frame.dts) / 90_000)) }
        let stamp = try #require(feed.broadcast.cueStamp(at: restart.addingTimeInterval(1.5)))
        #expect(stamp.mediaTime == before.mediaTime + Int64(5.5 * 90_000))
        #expect(abs(stamp.programDate.timeIntervalSince(before.programDate) - 5.5) < 1e-4)
        let stream = feed.broadcast.subscribeLive()
        #expect(feed.broadcast.addCue(Self.cue("after", stamp, kind: "quiz.reveal")))
        for frame in tail { feed.broadcast.ingest(.frame(frame), now: restart.addingTimeInterval(Double(frame.dts) / 90_000)) }
        feed.broadcast.end()

        var media: [ByteBuffer] = []
        for await fragment in stream {
            if case let .media(bytes) = fragment { media.append(bytes) }
        }
        // The cue stamped before the drop may be replayed from the open segment; the new one is "quiz.reveal".
        let emsg = try #require(try media.flatMap { try eventMessages(in: $0) }.first { $0.value == "quiz.reveal" })
        #expect(emsg.presentationTime == UInt64(stamp.mediaTime))
        // The frame ingested 1.5 s after the restart sits at the stamp's media time: the cue is on that frame.
        let videoTimes = try media.flatMap { try chunkRuns(in: $0) }.filter { $0.trackID == 1 }.map(\.baseDecodeTime)
        #expect(videoTimes.contains(emsg.presentationTime))

        let playlist = MediaPlaylist(try await feed.broadcast.playlist(PlaylistRequest()))
        let dates = try ["before", "after"].map { try #require(parseDate(playlist.dateRanges[$0]?["START-DATE"])) }
        #expect(abs(dates[1].timeIntervalSince(dates[0]) - 5.5) <= 0.002)
        let resumed = try #require(playlist.segments.first { $0.discontinuity }?.programDateTime)
        #expect(dates[1] > resumed)
    }
}
