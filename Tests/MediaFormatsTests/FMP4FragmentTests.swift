import MediaFormats
import NIOCore
import Testing

@Suite("FMP4.fragment: moof + mdat (ISO/IEC 14496-12 §8.8)")
struct FMP4FragmentTests {
    /// Distinct bytes per sample so a wrong offset reads the wrong sample.
    static func sample(_ index: Int, size: Int, duration: UInt32, sync: Bool, offset: Int32 = 0) -> FMP4.Sample {
        var data = ByteBuffer()
        data.writeInteger(UInt32(size - 4))  // a 4-byte NAL length prefix, as FLV carries AVC
        data.writeRepeatingByte(UInt8(truncatingIfNeeded: index), count: size - 4)
        return FMP4.Sample(duration: duration, isSync: sync, compositionOffset: offset, data: data)
    }

    static let videoRun = FMP4.TrackRun(
        trackID: 1, baseDecodeTime: 9_000_000_000,
        samples: [
            sample(1, size: 900, duration: 3000, sync: true, offset: 6000),
            sample(2, size: 120, duration: 3000, sync: false, offset: 9000),
            sample(3, size: 80, duration: 3000, sync: false, offset: 0),
            sample(4, size: 95, duration: 3000, sync: false, offset: -3000),
        ])
    static let audioRun = FMP4.TrackRun(
        trackID: 2, baseDecodeTime: 4_800_000,
        samples: (10..<14).map { sample($0, size: 300 + $0, duration: 1024, sync: true) })

    @Test("writes moof then one mdat; moof has mfhd and a traf per run in order")
    func layout() throws {
        let boxes = try ISOBMFFReader.boxes(in: FMP4.fragment(sequenceNumber: 7, runs: [Self.videoRun, Self.audioRun]))
        #expect(boxes.map(\.type) == ["moof", "mdat"])
        #expect(boxes[0].children.map(\.type) == ["mfhd", "traf", "traf"])
        #expect(try boxes[0].child("mfhd")?.decodeMovieFragmentSequenceNumber() == 7)
        for traf in boxes[0].children("traf") {
            #expect(traf.children.map(\.type) == ["tfhd", "tfdt", "trun"])
        }
    }

    @Test("tfhd says default-base-is-moof; tfdt is version 1 with the 64-bit base decode time")
    func headers() throws {
        let boxes = try ISOBMFFReader.boxes(in: FMP4.fragment(sequenceNumber: 1, runs: [Self.videoRun, Self.audioRun]))
        let trafs = boxes[0].children("traf")
        let tfhd = try #require(trafs[0].child("tfhd")).decodeTrackFragmentHeader()
        #expect(tfhd == .init(flags: 0x020000, trackID: 1))
        #expect(try trafs[1].child("tfhd")?.decodeTrackFragmentHeader().trackID == 2)
        let tfdt = try #require(trafs[0].child("tfdt"))
        #expect(try tfdt.fullBoxHeader().version == 1)
        #expect(try tfdt.decodeBaseMediaDecodeTime() == 9_000_000_000)
        #expect(try trafs[1].child("tfdt")?.decodeBaseMediaDecodeTime() == 4_800_000)
    }

    @Test("trun v1 lists each sample's duration, size, sync flags and signed composition offset")
    func trackRun() throws {
        let boxes = try ISOBMFFReader.boxes(in: FMP4.fragment(sequenceNumber: 1, runs: [Self.videoRun, Self.audioRun]))
        let trafs = boxes[0].children("traf")
        let video = try #require(trafs[0].child("trun")).decodeTrackRun()
        #expect(video.version == 1)
        #expect(video.flags == 0x000F01)
        #expect(video.sampleCount == 4)
        #expect(video.samples.map(\.duration) == [3000, 3000, 3000, 3000])
        #expect(video.samples.map(\.size) == [900, 120, 80, 95])
        #expect(video.samples.map(\.flags) == [0x0200_0000, 0x0101_0000, 0x0101_0000, 0x0101_0000])
        #expect(video.samples.map(\.compositionOffset) == [6000, 9000, 0, -3000])

        let audio = try #require(trafs[1].child("trun")).decodeTrackRun()
        #expect(audio.flags == 0x000701)  // no composition offsets when all are zero
        #expect(audio.samples.map(\.size) == [310, 311, 312, 313])
        #expect(audio.samples.allSatisfy { $0.flags == 0x0200_0000 && $0.duration == 1024 && $0.compositionOffset == nil })
    }

    @Test("each run's data offset, counted from the moof, points at its first sample's bytes in the mdat")
    func dataOffsets() throws {
        let runs = [Self.videoRun, Self.audioRun]
        let fragment = FMP4.fragment(sequenceNumber: 1, runs: runs)
        let boxes = try ISOBMFFReader.boxes(in: fragment)
        let moof = boxes[0]
        let mdat = boxes[1]
        #expect(mdat.offset == moof.size)
        #expect(mdat.size == 8 + runs.flatMap(\.samples).map(\.data.readableBytes).reduce(0, +))
        for (traf, run) in zip(moof.children("traf"), runs) {
            let trun = try #require(traf.child("trun")).decodeTrackRun()
            var position = moof.offset + Int(try #require(trun.dataOffset))
            #expect(position >= mdat.payloadOffset)
            for (entry, sample) in zip(trun.samples, run.samples) {
                let size = Int(try #require(entry.size))
                #expect(fragment.getBytes(at: position, length: size) == sample.data.readableBytesArray)
                position += size
            }
        }
    }

    @Test("a prft and emsg boxes go in front of the moof, in that order, and the data offsets still point at the samples")
    func leadingBoxes() throws {
        let runs = [Self.videoRun, Self.audioRun]
        let prft = FMP4.ProducerReferenceTime(
            referenceTrackID: 1, ntpTimestamp: FMP4.ntpTimestamp(unixSeconds: 1_767_225_600.5), mediaTime: 9_000_000_000,
            flags: FMP4.ProducerReferenceTime.realTime)
        let events = [
            FMP4.EventMessage(
                schemeIDURI: "https://liveloop.dev/cue/1", value: "poll.launch", timescale: 90000, presentationTime: 9_000_001_000,
                duration: FMP4.unknownEventDuration, id: 1, message: Array(#"{"poll":"p1"}"#.utf8)),
            FMP4.EventMessage(
                schemeIDURI: "https://liveloop.dev/cue/1", value: "offer.show", timescale: 90000, presentationTime: 9_000_002_000,
                duration: 450_000, id: 2, message: []),
        ]
        let fragment = FMP4.fragment(sequenceNumber: 3, runs: runs, producerReferenceTime: prft, eventMessages: events)
        let plain = FMP4.fragment(sequenceNumber: 3, runs: runs)
        let boxes = try ISOBMFFReader.boxes(in: fragment)
        #expect(boxes.map(\.type) == ["prft", "emsg", "emsg", "moof", "mdat"])
        #expect(boxes[0].size == FMP4.ProducerReferenceTime.size)
        #expect(zip(boxes[1...2], events).allSatisfy { $0.size == $1.size })
        #expect(
            try boxes[0].decodeProducerReferenceTime()
                == .init(version: 1, flags: 24, referenceTrackID: 1, ntpTimestamp: prft.ntpTimestamp, mediaTime: 9_000_000_000))
        let decoded = try boxes[1...2].map { try $0.decodeEventMessage() }
        #expect(decoded.map(\.presentationTime) == [9_000_001_000, 9_000_002_000])
        #expect(decoded.map(\.value) == ["poll.launch", "offer.show"])
        #expect(decoded.map(\.eventDuration) == [0xFFFF_FFFF, 450_000])
        #expect(decoded[0].messageData == Array(#"{"poll":"p1"}"#.utf8))
        // The moof and mdat are the plain fragment's bytes, unchanged: offsets count from the moof.
        let moof = boxes[3]
        #expect(fragment.getBytes(at: moof.offset, length: fragment.readableBytes - moof.offset) == plain.readableBytesArray)
        for (traf, run) in zip(moof.children("traf"), runs) {
            let trun = try #require(traf.child("trun")).decodeTrackRun()
            var position = moof.offset + Int(try #require(trun.dataOffset))
            for (entry, sample) in zip(trun.samples, run.samples) {
                let size = Int(try #require(entry.size))
                #expect(fragment.getBytes(at: position, length: size) == sample.data.readableBytesArray)
                position += size
            }
        }
    }

    @Test("writes only the readable bytes of slices, as ingest hands them over")
    func slices() throws {
        var backing = ByteBuffer()
        backing.writeBytes([0xAA, 0xAA, 0, 0, 0, 2, 0x65, 0x88, 0xBB])
        backing.moveReaderIndex(forwardBy: 2)
        let slice = try #require(backing.getSlice(at: 2, length: 6))
        let fragment = FMP4.fragment(
            sequenceNumber: 1,
            runs: [FMP4.TrackRun(trackID: 1, baseDecodeTime: 0, samples: [.init(duration: 1, isSync: true, data: slice)])])
        let boxes = try ISOBMFFReader.boxes(in: fragment)
        #expect(boxes[1].payload.readableBytesArray == [0, 0, 0, 2, 0x65, 0x88])
    }

    @Test("a fragment with an empty run still has consistent offsets")
    func emptyRun() throws {
        let empty = FMP4.TrackRun(trackID: 2, baseDecodeTime: 0, samples: [])
        let fragment = FMP4.fragment(sequenceNumber: 2, runs: [empty, Self.audioRun])
        let boxes = try ISOBMFFReader.boxes(in: fragment)
        let trafs = boxes[0].children("traf")
        #expect(try trafs[0].child("trun")?.decodeTrackRun().sampleCount == 0)
        let trun = try #require(trafs[1].child("trun")).decodeTrackRun()
        #expect(Int(try #require(trun.dataOffset)) == boxes[1].payloadOffset)
    }

    @Test("writes the exact bytes of a one-sample fragment")
    func exactBytes() {
        var data = ByteBuffer()
        data.writeBytes([0xDE, 0xAD])
        let fragment = FMP4.fragment(
            sequenceNumber: 3,
            runs: [FMP4.TrackRun(trackID: 1, baseDecodeTime: 5, samples: [.init(duration: 10, isSync: false, data: data)])])
        let expected: [UInt8] =
            [0, 0, 0, 100, 0x6D, 0x6F, 0x6F, 0x66]  // moof
            + [0, 0, 0, 16, 0x6D, 0x66, 0x68, 0x64, 0, 0, 0, 0, 0, 0, 0, 3]  // mfhd seq 3
            + [0, 0, 0, 76, 0x74, 0x72, 0x61, 0x66]  // traf
            + [0, 0, 0, 16, 0x74, 0x66, 0x68, 0x64, 0, 2, 0, 0, 0, 0, 0, 1]  // tfhd default-base-is-moof, track 1
            + [0, 0, 0, 20, 0x74, 0x66, 0x64, 0x74, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]  // tfdt v1
            + [0, 0, 0, 32, 0x74, 0x72, 0x75, 0x6E, 1, 0, 0x07, 0x01, 0, 0, 0, 1, 0, 0, 0, 108]  // trun, data offset 100 + 8
            + [0, 0, 0, 10, 0, 0, 0, 2, 0x01, 0x01, 0, 0]  // duration, size, flags
            + [0, 0, 0, 10, 0x6D, 0x64, 0x61, 0x74, 0xDE, 0xAD]  // mdat
        #expect(fragment.readableBytesArray == expected)
    }
}
