import MediaFormats
import NIOCore
import Testing

@Suite("FMP4.initSegment: ftyp + moov for CMAF (ISO/IEC 14496-12 §8)")
struct FMP4InitSegmentTests {
    static func tracks() throws -> [FMP4.Track] {
        let avc = try AVCDecoderConfiguration(record: MediaFixtureFiles.bytes(MediaFixtureFiles.avcHigh720p))
        let aac = try AudioSpecificConfig(bytes: MediaFixtureFiles.bytes(MediaFixtureFiles.aacStereo48k))
        return [
            FMP4.Track(id: 1, timescale: 90000, kind: .video(avc, width: 1280, height: 720)),
            FMP4.Track(id: 2, timescale: 48000, kind: .audio(aac)),
        ]
    }

    @Test("is exactly ftyp then moov, with the CMAF brands")
    func topLevel() throws {
        let boxes = try ISOBMFFReader.boxes(in: FMP4.initSegment(tracks: Self.tracks()))
        #expect(boxes.map(\.type) == ["ftyp", "moov"])
        let ftyp = boxes[0].payload.readableBytesArray
        #expect(Array(ftyp.prefix(4)) == Array("iso6".utf8))
        let compatible = stride(from: 8, to: ftyp.count, by: 4).map { String(decoding: ftyp[$0..<$0 + 4], as: UTF8.self) }
        #expect(compatible.contains("cmfc"))
        #expect(compatible.contains("iso6"))
        #expect(compatible.contains("isom"))
    }

    @Test("moov holds mvhd, one trak per track in order, and an mvex with a trex per track")
    func movieLayout() throws {
        let boxes = try ISOBMFFReader.boxes(in: FMP4.initSegment(tracks: Self.tracks()))
        let moov = try #require(boxes.last)
        #expect(moov.children.map(\.type) == ["mvhd", "trak", "trak", "mvex"])
        let trex = try #require(moov.child("mvex")).children("trex")
        #expect(trex.count == 2)
        var firstTrex = trex[0].payload
        firstTrex.moveReaderIndex(forwardBy: 4)
        #expect(firstTrex.readInteger(as: UInt32.self) == 1)  // track_ID
        #expect(firstTrex.readInteger(as: UInt32.self) == 1)  // default_sample_description_index
        // mvhd next_track_ID is the last 4 bytes: one past the largest track ID.
        let mvhd = try #require(moov.child("mvhd"))
        #expect(mvhd.payload.getInteger(at: mvhd.payload.writerIndex - 4, as: UInt32.self) == 3)
        #expect(mvhd.size == 108)
    }

    @Test("each trak has tkhd (id, 16.16 size), mdhd timescale, hdlr, media header, dref and an empty sample table")
    func trackLayout() throws {
        let boxes = try ISOBMFFReader.boxes(in: FMP4.initSegment(tracks: Self.tracks()))
        let traks = try #require(boxes.last).children("trak")
        let video = traks[0]
        let audio = traks[1]

        let videoHeader = try #require(video.child("tkhd")).decodeTrackHeader()
        #expect(videoHeader == .init(trackID: 1, width: 1280 << 16, height: 720 << 16))
        #expect(try #require(video.child("tkhd")).fullBoxHeader().flags == 3)
        let audioHeader = try #require(audio.child("tkhd")).decodeTrackHeader()
        #expect(audioHeader == .init(trackID: 2, width: 0, height: 0))

        #expect(try video.descendant("mdia", "mdhd")?.decodeMediaTimescale() == 90000)
        #expect(try audio.descendant("mdia", "mdhd")?.decodeMediaTimescale() == 48000)
        #expect(try video.descendant("mdia", "hdlr")?.decodeHandlerType() == "vide")
        #expect(try audio.descendant("mdia", "hdlr")?.decodeHandlerType() == "soun")
        #expect(video.descendant("mdia", "minf", "vmhd") != nil)
        #expect(audio.descendant("mdia", "minf", "smhd") != nil)
        #expect(video.descendant("mdia", "minf", "dinf", "dref", "url ") != nil)

        for trak in traks {
            let stbl = try #require(trak.descendant("mdia", "minf", "stbl"))
            #expect(stbl.children.map(\.type) == ["stsd", "stts", "stsc", "stsz", "stco"])
            for table in ["stts", "stsc", "stco"] {
                #expect(try #require(stbl.child(table)).payload.readableBytesArray == [0, 0, 0, 0, 0, 0, 0, 0])
            }
            #expect(try #require(stbl.child("stsz")).payload.readableBytesArray == [UInt8](repeating: 0, count: 12))
        }
    }

    @Test("the avc1 sample entry carries the avcC record verbatim and the coded size")
    func avcSampleEntry() throws {
        let tracks = try Self.tracks()
        let boxes = try ISOBMFFReader.boxes(in: FMP4.initSegment(tracks: tracks))
        let stsd = try #require(ISOBMFFReader.first(["moov", "trak", "mdia", "minf", "stbl", "stsd"], in: boxes))
        let avc1 = try #require(stsd.child("avc1"))
        #expect(avc1.payload.getInteger(at: avc1.payload.readerIndex + 6, as: UInt16.self) == 1)  // data_reference_index
        #expect(avc1.payload.getInteger(at: avc1.payload.readerIndex + 24, as: UInt16.self) == 1280)
        #expect(avc1.payload.getInteger(at: avc1.payload.readerIndex + 26, as: UInt16.self) == 720)
        #expect(avc1.payload.getInteger(at: avc1.payload.readerIndex + 74, as: UInt16.self) == 0x18)  // depth
        let avcC = try #require(avc1.child("avcC"))
        guard case .video(let configuration, _, _) = tracks[0].kind else { return }
        #expect(avcC.payload.readableBytesArray == configuration.record)
    }

    @Test("the mp4a sample entry has channel count, 16.16 rate and an esds whose DecSpecificInfo is the ASC")
    func aacSampleEntry() throws {
        let tracks = try Self.tracks()
        let boxes = try ISOBMFFReader.boxes(in: FMP4.initSegment(tracks: tracks))
        let moov = try #require(boxes.last)
        let stsd = try #require(moov.children("trak")[1].descendant("mdia", "minf", "stbl", "stsd"))
        let mp4a = try #require(stsd.child("mp4a"))
        let start = mp4a.payload.readerIndex
        #expect(mp4a.payload.getInteger(at: start + 16, as: UInt16.self) == 2)  // channelcount
        #expect(mp4a.payload.getInteger(at: start + 18, as: UInt16.self) == 16)  // samplesize
        #expect(mp4a.payload.getInteger(at: start + 24, as: UInt32.self) == 48000 << 16)
        let esds = try #require(mp4a.child("esds")).payload.readableBytesArray
        let asc = try MediaFixtureFiles.bytes(MediaFixtureFiles.aacStereo48k)
        // version/flags, ES_Descriptor(ES_ID 0, flags 0, DecoderConfigDescriptor(0x40, 0x15, …, DecSpecificInfo(ASC)), SL)
        let decoderConfig: [UInt8] = [0x04, UInt8(13 + 2 + asc.count), 0x40, 0x15]
        #expect(Array(esds.prefix(4)) == [0, 0, 0, 0])
        #expect(esds[4] == 0x03)
        #expect(Int(esds[5]) == esds.count - 6)  // ES_Descriptor spans the rest of the box
        #expect(Array(esds[6..<9]) == [0, 0, 0])  // ES_ID 0, no optional fields
        #expect(Array(esds[9..<13]) == decoderConfig)
        #expect(Array(esds[24..<26]) == [0x05, UInt8(asc.count)])
        #expect(Array(esds[26..<(26 + asc.count)]) == asc)
        #expect(Array(esds.suffix(3)) == [0x06, 0x01, 0x02])
    }

    @Test("a video-only init segment has one trak and next_track_ID after it")
    func videoOnly() throws {
        let tracks = try Self.tracks().prefix(1)
        let boxes = try ISOBMFFReader.boxes(in: FMP4.initSegment(tracks: Array(tracks)))
        let moov = try #require(boxes.last)
        #expect(moov.children("trak").count == 1)
        #expect(moov.child("mvex")?.children.count == 1)
    }
}
