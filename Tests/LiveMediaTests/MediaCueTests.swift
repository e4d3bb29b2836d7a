import Foundation
import LiveMedia
import MediaFormats
import NIOCore
import Testing

/// The attributes of an attribute-list tag (RFC 8216bis §4.2), quoted strings without their quotes; nil when the list
/// is malformed (a name outside A–Z, 0–9 and `-`, an unterminated or stray quote, a repeated name).
func attributeList(_ line: String) -> [String: String]? {
    guard let colon = line.firstIndex(of: ":") else { return nil }
    var result: [String: String] = [:]
    var rest = line[line.index(after: colon)...]
    while !rest.isEmpty {
        guard let equals = rest.firstIndex(of: "=") else { return nil }
        let name = String(rest[..<equals])
        guard !name.isEmpty, name.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" })
        else { return nil }
        rest = rest[rest.index(after: equals)...]
        let value: Substring
        if rest.first == "\"" {
            let body = rest.dropFirst()
            guard let close = body.firstIndex(of: "\"") else { return nil }
            value = body[..<close]
            rest = body[body.index(after: close)...]
        } else {
            let end = rest.firstIndex(of: ",") ?? rest.endIndex
            value = rest[..<end]
            guard !value.contains("\"") else { return nil }
            rest = rest[end...]
        }
        guard result[name] == nil else { return nil }
        result[name] = String(value)
        if rest.first == "," {
            rest = rest.dropFirst()
        } else if !rest.isEmpty {
            return nil
        }
    }
    return result
}

extension MediaPlaylist {
    var dateRangeLines: [String] { lines.filter { $0.hasPrefix("#EXT-X-DATERANGE:") } }

    /// The DATERANGE attributes by ID.
    var dateRanges: [String: [String: String]] {
        var ranges: [String: [String: String]] = [:]
        for line in dateRangeLines {
            if let attributes = attributeList(line), let id = attributes["ID"] { ranges[id] = attributes }
        }
        return ranges
    }
}

func parseDate(_ text: String?) -> Date? {
    text.flatMap { try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse($0) }
}

/// The top-level boxes of a chunk, part or segment.
func topLevelTypes(_ bytes: ByteBuffer) throws -> [String] {
    try ISOBMFFReader.boxes(in: bytes).map(\.type)
}

func eventMessages(in bytes: ByteBuffer) throws -> [ISOBox.EventMessage] {
    try ISOBMFFReader.boxes(in: bytes).filter { $0.type == "emsg" }.map { try $0.decodeEventMessage() }
}

extension PackagingRun {
    /// A cue at `seconds` into the stream, stamped with the packager's clock.
    func cue(_ id: String, kind: String = "poll.launch", at mediaTime: Int64, duration: Double? = nil,
             attributes: [String: String] = [:], payload: [UInt8] = []) -> MediaCue {
        MediaCue(
            id: id, kind: kind, mediaTime: mediaTime, programDate: packager.clock.wallClock(atMediaTime: mediaTime),
            duration: duration, attributes: attributes, payload: payload)
    }

    /// The chunks announced since event `index`, with where they went.
    func chunks(since index: Int) -> [(msn: Int, part: Int, bytes: ByteBuffer)] {
        var chunks: [(Int, Int, ByteBuffer)] = []
        for case let .chunk(msn, part, bytes) in events[index...] { chunks.append((msn, part, bytes)) }
        return chunks
    }
}

@Suite("Interaction cues in the playlist (EXT-X-DATERANGE)")
struct DateRangeTests {
    @Test("a cue is an EXT-X-DATERANGE after the PROGRAM-DATE-TIME of its segment, START-DATE on the same mapping")
    func fullPlaylist() throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream().frames(seconds: 5))
        let mediaTime: Int64 = 3 * 90_000 + 12_345
        let added = run.packager.addCue(run.cue("poll-1", at: mediaTime, duration: 30, attributes: ["poll": "p1"]))
        #expect(added)
        let playlist = run.playlist
        let line = try #require(playlist.dateRangeLines.first)
        #expect(playlist.dateRangeLines.count == 1)
        let attributes = try #require(attributeList(line), "\(line)")
        #expect(attributes["ID"] == "poll-1")
        #expect(attributes["CLASS"] == "dev.liveloop.cue")
        #expect(attributes["DURATION"] == "30.000")
        #expect(attributes["X-LIVELOOP-KIND"] == "poll.launch")
        #expect(attributes["X-LIVELOOP-MEDIA-TIME"] == "3.137")
        #expect(attributes["X-LIVELOOP-POLL"] == "p1")
        #expect(line.hasPrefix(#"#EXT-X-DATERANGE:ID="poll-1",CLASS="dev.liveloop.cue",START-DATE=""#))
        #expect(line.hasSuffix(#",DURATION=30.000,X-LIVELOOP-KIND="poll.launch",X-LIVELOOP-MEDIA-TIME=3.137,X-LIVELOOP-POLL="p1""#))

        let startDate = try #require(parseDate(attributes["START-DATE"]))
        let expected = run.packager.clock.wallClock(atMediaTime: mediaTime)
        #expect(abs(startDate.timeIntervalSince(expected)) <= 0.001)
        // The segment the cue starts in: its PROGRAM-DATE-TIME line comes right before the tag.
        let segment = try #require(run.segments.last { $0.startTime <= mediaTime })
        let index = try #require(playlist.lines.firstIndex(of: line))
        let pdt = try #require(parseDate(String(playlist.lines[index - 1].dropFirst("#EXT-X-PROGRAM-DATE-TIME:".count))))
        #expect(abs(pdt.timeIntervalSince(segment.programDateTime)) <= 0.001)
        #expect(abs(startDate.timeIntervalSince(pdt) - Double(mediaTime - segment.startTime) / 90_000) <= 0.002)
    }

    @Test("a cue in the open segment follows that segment's PROGRAM-DATE-TIME; cues keep media-time order")
    func ordering() throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream().frames(seconds: 5))
        let open = try #require(run.packager.openSegment)
        let added = run.packager.addCue(run.cue("late", at: open.startTime + 9000))
        #expect(added)
        let added2 = run.packager.addCue(run.cue("early", at: 90_000))
        #expect(added2)
        let added3 = run.packager.addCue(run.cue("middle", at: 2 * 90_000 + 1))
        #expect(added3)
        let playlist = run.playlist
        #expect(playlist.dateRangeLines.compactMap { attributeList($0)?["ID"] } == ["early", "middle", "late"])
        let late = try #require(playlist.lines.firstIndex { $0.contains(#"ID="late""#) })
        #expect(parseDate(String(playlist.lines[late - 1].dropFirst("#EXT-X-PROGRAM-DATE-TIME:".count))).map {
            abs($0.timeIntervalSince(open.programDateTime)) <= 0.001
        } == true)
    }

    @Test("delta updates keep every DATERANGE, those of skipped segments right after EXT-X-SKIP; CAN-SKIP-DATERANGES is not announced")
    func deltaPlaylist() throws {
        var run = PackagingRun(configuration: HLSConfiguration(segmentTarget: 1, segmentCount: 12), muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream().frames(seconds: 20.5))
        let firstStart = try #require(run.segments.first).startTime
        let added = run.packager.addCue(run.cue("old", at: firstStart + 45_000))
        #expect(added)
        let added2 = run.packager.addCue(run.cue("new", at: 19 * 90_000 + 100))
        #expect(added2)
        let full = run.playlist
        let delta = MediaPlaylist(run.packager.renderMediaPlaylist(skip: true))
        let skip = try #require(delta.lines.firstIndex { $0.hasPrefix("#EXT-X-SKIP:") })
        #expect(delta.lines[skip + 1].contains(#"ID="old""#))
        #expect(Set(delta.dateRangeLines) == Set(full.dateRangeLines))
        #expect(delta.dateRangeLines.count == 2)
        #expect(full.attribute("CAN-SKIP-DATERANGES", of: "#EXT-X-SERVER-CONTROL") == nil)
        // The delta update still has every segment it did before the cues.
        #expect(delta.segments.map(\.uri) == Array(full.segments.map(\.uri).suffix(delta.segments.count)))
    }

    @Test("quotes, line breaks and control characters never reach the playlist; attribute keys are upper-cased")
    func escaping() throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream().frames(seconds: 3))
        let cue = run.cue(
            "q\"1\n", kind: "quiz.\"show\"\r\n", at: 90_000,
            attributes: ["question": "Who said \"hi\"?\nNobody\u{0}\u{7F}\u{85}", "answer-count": "4", "EMOJI": "🎉, é"])
        let added = run.packager.addCue(cue)
        #expect(added)
        let playlist = run.playlist
        #expect(!playlist.text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n") || (0x7F...0x9F).contains($0.value) })
        let line = try #require(playlist.dateRangeLines.first)
        let attributes = try #require(attributeList(line), "a well-formed attribute list: \(line)")
        #expect(attributes["ID"] == "q'1 ")
        #expect(attributes["X-LIVELOOP-KIND"] == "quiz.'show'  ")
        #expect(attributes["X-LIVELOOP-QUESTION"] == "Who said 'hi'? Nobody   ")
        #expect(attributes["X-LIVELOOP-ANSWER-COUNT"] == "4")
        #expect(attributes["X-LIVELOOP-EMOJI"] == "🎉, é")
    }

    static let clock = StreamClock(anchorMediaTime: 0, anchorWallClock: testEpoch)
    static func cue(
        id: String = "c", kind: String = "poll.launch", mediaTime: Int64 = 90_000, duration: Double? = nil,
        attributes: [String: String] = [:], payload: [UInt8] = []
    ) -> MediaCue {
        MediaCue(
            id: id, kind: kind, mediaTime: mediaTime, programDate: clock.wallClock(atMediaTime: mediaTime), duration: duration,
            attributes: attributes, payload: payload)
    }

    @Test("invalid or oversized cues are refused and leave no trace", arguments: [
        ("empty id", cue(id: "")),
        ("empty kind", cue(kind: "")),
        ("negative media time", cue(mediaTime: -1)),
        ("payload over 1 KiB", cue(payload: Array(repeating: 0x20, count: 1025))),
        ("NaN duration", cue(duration: .nan)),
        ("negative duration", cue(duration: -1)),
        ("duration past the emsg range", cue(duration: 50_000)),
        ("attribute key with a space", cue(attributes: ["POLL ID": "1"])),
        ("attribute key with an underscore", cue(attributes: ["POLL_ID": "1"])),
        ("empty attribute key", cue(attributes: ["": "1"])),
        ("reserved attribute key", cue(attributes: ["kind": "x"])),
        ("keys equal once upper-cased", cue(attributes: ["poll": "1", "POLL": "2"])),
        ("attribute value too long", cue(attributes: ["TEXT": String(repeating: "x", count: 257)])),
        ("id too long", cue(id: String(repeating: "i", count: 257))),
        ("too many attributes", cue(attributes: Dictionary(uniqueKeysWithValues: (0..<17).map { ("K\($0)", "v") }))),
    ])
    func refused(reason: String, cue: MediaCue) throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        let (first, rest) = SyntheticStream().frames(seconds: 3).split(at: 2)
        run.append(first)
        let added = run.packager.addCue(cue)
        #expect(!added, "\(reason)")
        let index = run.events.count
        run.append(rest)
        #expect(run.playlist.dateRangeLines.isEmpty, "\(reason)")
        #expect(try run.chunks(since: index).allSatisfy { try eventMessages(in: $0.bytes).isEmpty }, "\(reason)")
    }

    @Test("the largest valid cue is taken: a 1 KiB payload, 16 attributes, 256-byte texts")
    func limits() throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream().frames(seconds: 3))
        let cue = run.cue(
            String(repeating: "i", count: 256), at: 90_000,
            attributes: Dictionary(uniqueKeysWithValues: (0..<16).map { ("K\($0)", String(repeating: "v", count: 256)) }),
            payload: Array(repeating: 0x20, count: 1024))
        let added = run.packager.addCue(cue)
        #expect(added)
        #expect(run.playlist.dateRangeLines.count == 1)
    }

    @Test("a second cue with the ID of one still listed is refused; after end() no cue is taken")
    func duplicatesAndEnd() throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream().frames(seconds: 3))
        let added = run.packager.addCue(run.cue("a", at: 90_000))
        #expect(added)
        let duplicate = run.packager.addCue(run.cue("a", kind: "poll.close", at: 2 * 90_000))
        #expect(!duplicate)
        #expect(run.playlist.dateRangeLines.count == 1)
        run.events += run.packager.end()
        let afterEnd = run.packager.addCue(run.cue("b", at: 2 * 90_000))
        #expect(!afterEnd)
        #expect(run.playlist.dateRangeLines.count == 1)
    }

    @Test("a cue leaves the playlists when the segment it starts in slides out, not before")
    func pruned() throws {
        var run = PackagingRun(configuration: HLSConfiguration(segmentCount: 3), muxer: try CodecFixtures.muxer())
        let frames = SyntheticStream().frames(seconds: 16)
        let (first, rest) = frames.split(at: 2.5)
        run.append(first)
        let mediaTime: Int64 = 2 * 90_000 + 4500
        let added = run.packager.addCue(run.cue("p", at: mediaTime))
        #expect(added)
        var sawListed = false
        var sawPruned = false
        for frame in rest {
            let events = run.packager.append(frame)
            run.events += events
            guard events.contains(where: { if case .segmentCompleted = $0 { true } else { false } }) else { continue }
            let windowStart = try #require(run.segments.first).startTime
            let listed = !run.playlist.dateRangeLines.isEmpty
            #expect(listed == (mediaTime >= windowStart), "window from \(windowStart)")
            #expect(MediaPlaylist(run.packager.renderMediaPlaylist(skip: true)).dateRangeLines.isEmpty == !listed)
            if listed { sawListed = true } else { sawPruned = true }
        }
        #expect(sawListed && sawPruned)
        // The ID is free again once its cue has gone.
        let reused = run.packager.addCue(run.cue("p", at: 15 * 90_000))
        #expect(reused)
    }

    @Test("at most 256 cues are kept, the latest by media time")
    func capped() throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        run.append(SyntheticStream().frames(seconds: 3))
        for index in 0..<300 {
            let added = run.packager.addCue(run.cue("c\(index)", at: 90_000 + Int64(index) * 100))
            #expect(added)
        }
        let ids = run.playlist.dateRangeLines.compactMap { attributeList($0)?["ID"] }
        #expect(ids.count == HLSPackager.maximumCues)
        #expect(ids.first == "c44")
        #expect(ids.last == "c299")
    }
}

@Suite("Interaction cues in the media (emsg, prft)")
struct CueEventMessageTests {
    @Test("the next chunk after addCue starts with a prft, then the cue's emsg, whose presentation time is on the tfdt timeline")
    func nextChunk() throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        let (first, rest) = SyntheticStream().frames(seconds: 4).split(at: 2.3)
        run.append(first)
        let frame = try #require(rest.first { $0.track == .video })
        let payload = Array(#"{"poll":"p1","question":"Which one?"}"#.utf8)
        let cue = run.cue("poll-1", at: frame.dts, payload: payload)
        let added = run.packager.addCue(cue)
        #expect(added)
        let index = run.events.count
        run.append(rest)
        let chunks = run.chunks(since: index)
        let chunk = try #require(chunks.first)
        #expect(try topLevelTypes(chunk.bytes) == ["prft", "emsg", "moof", "mdat"])
        let emsg = try #require(try eventMessages(in: chunk.bytes).first)
        #expect(
            emsg == .init(
                version: 1, schemeIDURI: "https://liveloop.dev/cue/1", value: "poll.launch", timescale: 90_000,
                presentationTime: UInt64(frame.dts), eventDuration: 0xFFFF_FFFF, id: cue.eventID, messageData: payload))
        // The frame ingested at the cue's media time is in this chunk, its tfdt equal to the presentation time.
        #expect(try chunkRuns(in: chunk.bytes).first { $0.trackID == 1 }?.baseDecodeTime == emsg.presentationTime)
        #expect(try chunks.dropFirst().allSatisfy { try eventMessages(in: $0.bytes).isEmpty }, "written once")

        // The part holding the chunk carries the same box.
        let part: ByteBuffer
        switch run.packager.part(msn: chunk.msn, index: chunk.part) {
        case let .complete(bytes), let .open(bytes): part = bytes
        case .notFound: throw PartMissing()
        }
        #expect(try eventMessages(in: part) == [emsg])
    }

    struct PartMissing: Error {}

    @Test("several cues before one chunk all go in front of it, with their durations in 90 kHz ticks")
    func severalInOneChunk() throws {
        var run = PackagingRun(muxer: try CodecFixtures.muxer())
        let (first, rest) = SyntheticStream().frames(seconds: 4).split(at: 2.3)
        run.append(first)
        let added = run.packager.addCue(run.cue("a", kind: "offer.show", at: 207_000, duration: 5))
        #expect(added)
        let added2 = run.packager.addCue(run.cue("b", kind: "quiz.reveal", at: 207_100, duration: 0.5))
        #expect(added2)
        let index = run.events.count
        run.append(rest)
        let chunk = try #require(run.chunks(since: index).first)
        #expect(try topLevelTypes(chunk.bytes) == ["prft", "emsg", "emsg", "moof", "mdat"])
        let events = try eventMessages(in: chunk.bytes)
        #expect(events.map(\.value) == ["offer.show", "quiz.reveal"])
        #expect(events.map(\.eventDuration) == [450_000, 45_000])
        #expect(events.map(\.id) == [run.cue("a", at: 0).eventID, run.cue("b", at: 0).eventID])
    }

    @Test("the emsg id is a stable 32-bit FNV-1a hash of the cue ID")
    func eventID() {
        let clock = StreamClock(anchorMediaTime: 0, anchorWallClock: testEpoch)
        func id(_ text: String) -> UInt32 {
            MediaCue(id: text, kind: "k", mediaTime: 0, programDate: clock.wallClock(atMediaTime: 0)).eventID
        }
        #expect(id("") == 0x811C_9DC5)
        #expect(id("a") == 0xE40C_292C)
        #expect(id("foobar") == 0xBF9C_F968)
        #expect(id("poll-1") != id("poll-2"))
    }

    @Test("every chunk starts with a prft (flags 24) mapping its decode time to the stream clock's wall time")
    func producerReferenceTime() throws {
        let clip = try DemoClip()
        var run = PackagingRun(muxer: try clip.muxer())
        run.append(clip.frames)
        let chunks = run.chunks(since: 0)
        #expect(chunks.count > 300)
        var audioOnly = 0
        for chunk in chunks {
            let boxes = try ISOBMFFReader.boxes(in: chunk.bytes)
            #expect(boxes.map(\.type) == ["prft", "moof", "mdat"])
            let prft = try boxes[0].decodeProducerReferenceTime()
            #expect(prft.version == 1)
            #expect(prft.flags == 24)
            let runs = try chunkRuns(in: chunk.bytes)
            let reference = try #require(runs.first { $0.trackID == 1 } ?? runs.first)
            #expect(prft.referenceTrackID == reference.trackID)
            #expect(prft.mediaTime == reference.baseDecodeTime)
            let ticks = reference.trackID == 1 ? Int64(reference.baseDecodeTime) : Int64(reference.baseDecodeTime) * 90_000 / 48_000
            if reference.trackID == 2 { audioOnly += 1 }
            let wallClock = run.packager.clock.wallClock(atMediaTime: ticks)
            #expect(prft.ntpTimestamp == FMP4.ntpTimestamp(unixSeconds: wallClock.timeIntervalSince1970))
        }
        #expect(audioOnly > 0, "chunks of held audio reference the audio track")
        // The segment's first prft is its PROGRAM-DATE-TIME.
        let segment = try #require(run.segments.first)
        let prft = try #require(try ISOBMFFReader.boxes(in: segment.parts[0].bytes).first).decodeProducerReferenceTime()
        #expect(prft.ntpTimestamp == FMP4.ntpTimestamp(unixSeconds: segment.programDateTime.timeIntervalSince1970))
    }
}
