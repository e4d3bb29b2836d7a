import NIOCore
import Testing
@testable import MediaFormats

@Suite("MPEG-TS → IngestEvent, on bytes ffmpeg wrote")
struct MPEGTSIngestTests {
    static func events() throws -> [IngestEvent] {
        var ingest = MPEGTSIngest()
        let bytes = try MediaFixtureFiles.bytes(MediaFixtureFiles.ts180p)
        var events: [IngestEvent] = []
        // SRT delivers 1316-byte messages: seven packets each.
        var offset = 0
        while offset < bytes.count {
            events += try ingest.feed(bytes[offset..<min(bytes.count, offset + 1316)])
            offset += 1316
        }
        events += ingest.finish()
        #expect(ingest.droppedCount == 0, "\(ingest.problems)")
        return events
    }

    static func frames(_ events: [IngestEvent], _ track: MediaFrame.Track) -> [MediaFrame] {
        events.compactMap { if case let .frame(frame) = $0, frame.track == track { frame } else { nil } }
    }

    @Test("every video frame comes out, with keyframes where the encoder put them and B-frames reordered")
    func video() throws {
        let events = try Self.events()
        let video = Self.frames(events, .video)
        #expect(video.count == 60)
        #expect(video.enumerated().filter(\.element.isKeyframe).map(\.offset) == [0, 30])
        let dts = video.map(\.dts)
        #expect(zip(dts.dropFirst(), dts).allSatisfy { $0 > $1 }, "decode times increase")
        #expect(video.allSatisfy { $0.pts >= $0.dts })
        #expect(video.contains { $0.pts != $0.dts }, "B-frames give composition offsets")
        #expect(zip(video.map(\.pts).dropFirst(), video.map(\.pts)).contains { $0 < $1 }, "presentation order differs from decode order")
        let pts = video.map(\.pts).sorted()
        #expect(zip(pts.dropFirst(), pts).allSatisfy { $0 - $1 == 3000 }, "30 fps: one frame every 3000 ticks")
        #expect(dts.first == 0, "the timeline starts at the first decode time")
        // Samples are length-prefixed NAL units that add up to the sample.
        for frame in video {
            var data = frame.data
            while data.readableBytes > 0 {
                let length = data.readInteger(as: UInt32.self)
                let nal = length.flatMap { data.readSlice(length: Int($0)) }
                #expect(nal != nil)
                if nal == nil { break }
            }
        }
    }

    @Test("the configuration comes once, before the first frames, and builds an avcC the packager reads")
    func configuration() throws {
        let events = try Self.events()
        var videoConfigs: [[UInt8]] = []
        var audioConfigs: [[UInt8]] = []
        var firstVideoFrame: Int?
        var firstAudioFrame: Int?
        for (index, event) in events.enumerated() {
            switch event {
            case let .videoConfiguration(record): videoConfigs.append(record)
            case let .audioConfiguration(bytes): audioConfigs.append(bytes)
            case let .frame(frame) where frame.track == .video: firstVideoFrame = firstVideoFrame ?? index
            case .frame: firstAudioFrame = firstAudioFrame ?? index
            case .metadata: break
            }
        }
        #expect(videoConfigs.count == 1)
        #expect(audioConfigs.count == 1)
        let avc = try AVCDecoderConfiguration(record: try #require(videoConfigs.first))
        let sps = try avc.parsedSPS()
        #expect(sps.width == 320 && sps.height == 180)
        #expect(avc.codecString.hasPrefix("avc1.64"))
        #expect(avc.nalUnitLengthSize == 4)
        let asc = try AudioSpecificConfig(bytes: try #require(audioConfigs.first))
        #expect(asc.objectType == 2 && asc.samplingFrequency == 48000 && asc.channelConfiguration == 1)
        let videoConfigIndex = try #require(events.firstIndex { if case .videoConfiguration = $0 { true } else { false } })
        #expect(videoConfigIndex < (firstVideoFrame ?? 0))
        let audioConfigIndex = try #require(events.firstIndex { if case .audioConfiguration = $0 { true } else { false } })
        #expect(audioConfigIndex < (firstAudioFrame ?? 0))
    }

    @Test("several AAC frames per PES become frames 1024 samples apart")
    func audio() throws {
        let audio = Self.frames(try Self.events(), .audio)
        #expect((66...68).contains(audio.count), "ffprobe counts 67: got \(audio.count)")
        let pts = audio.map(\.pts)
        let gaps = zip(pts.dropFirst(), pts).map { $0 - $1 }
        #expect(gaps.allSatisfy { abs($0 - 1920) <= 1 }, "1024 samples at 48 kHz = 1920 ticks: \(Set(gaps))")
        #expect(audio.allSatisfy { $0.data.readableBytes > 0 && $0.data.getInteger(at: 0, as: UInt16.self).map { $0 & 0xFFF6 != 0xFFF0 } ?? false },
                "ADTS headers are removed")
    }

    @Test("new SPS/PPS mid-stream announce a new configuration")
    func configurationChange() throws {
        let bytes = try MediaFixtureFiles.bytes(MediaFixtureFiles.ts180p)
        var ingest = MPEGTSIngest()
        var events = try ingest.feed(bytes)
        events += ingest.finish()
        // The same stream again: same parameter sets, so no new configuration.
        var again = try ingest.feed(bytes)
        again += ingest.finish()
        #expect(!again.contains { if case .videoConfiguration = $0 { true } else { false } })
    }
}

@Suite("ADTS")
struct ADTSTests {
    static func header(profile: Int = 1, frequencyIndex: Int = 3, channels: Int = 2, length: Int, crc: Bool = false) -> [UInt8] {
        [0xFF, crc ? 0xF0 : 0xF1, UInt8(profile << 6 | frequencyIndex << 2 | channels >> 2),
         UInt8((channels & 3) << 6 | length >> 11), UInt8(length >> 3 & 0xFF), UInt8((length & 7) << 5 | 0x1F), 0xFC]
            + (crc ? [0, 0] : [])
    }

    @Test("a header gives the AudioSpecificConfig and the raw frame; frames follow each other")
    func frames() throws {
        let bytes = Self.header(length: 10) + [1, 2, 3] + Self.header(length: 9, crc: true) + [4, 5, 6, 7].prefix(0) + []
        let frames = try ADTS.frames(in: bytes)
        #expect(frames.count == 2)
        #expect(frames.first.map { Array($0.payload) } == [1, 2, 3])
        #expect(frames.last?.payload.isEmpty == true)
        #expect(frames.first?.configuration.bytes == [0x11, 0x90], "AAC LC, 48 kHz, stereo")
    }

    @Test("malformed ADTS throws a typed error", arguments: [
        ([0x12, 0x34, 0, 0, 0, 0, 0, 0], ADTSError.noSyncword(offset: 0)),
        (Array(header(length: 20)) + [1, 2], ADTSError.truncated(offset: 0)),
        (header(length: 3), ADTSError.badFrameLength(3)),
        ([0xFF, 0xF1, 0x50], ADTSError.truncated(offset: 0)),
        (header(frequencyIndex: 14, length: 7), ADTSError.unsupported("sampling_frequency_index 14")),
    ])
    func malformed(bytes: [UInt8], error: ADTSError) {
        #expect(throws: error) { try ADTS.frames(in: bytes) }
    }
}

@Suite("H.264 Annex B")
struct AnnexBTests {
    @Test("start codes of three and four bytes split NAL units; AUD, SPS and PPS leave the sample")
    func split() throws {
        let stream: [UInt8] = [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x67, 0x64, 0, 0x1F, 0, 0, 1, 0x68, 0xEE, 0, 0, 0, 1, 0x65, 0x88, 0x84, 0, 0]
        let units = AnnexB.nalUnits(in: stream).map(Array.init)
        #expect(units == [[0x09, 0xF0], [0x67, 0x64, 0, 0x1F], [0x68, 0xEE], [0x65, 0x88, 0x84]])
        let access = AnnexB.accessUnit(stream)
        #expect(access.isKeyframe)
        #expect(access.sample == [0, 0, 0, 3, 0x65, 0x88, 0x84])
        #expect(access.sequenceParameterSets == [[0x67, 0x64, 0, 0x1F]])
        #expect(access.pictureParameterSets == [[0x68, 0xEE]])
    }

    @Test("garbage without start codes yields no NAL units")
    func garbage() {
        #expect(AnnexB.nalUnits(in: [1, 2, 3, 4, 5]).isEmpty)
        #expect(AnnexB.nalUnits(in: []).isEmpty)
        #expect(AnnexB.accessUnit([0, 0, 1]).sample.isEmpty)
    }

    @Test("an avcC built from an ffmpeg SPS and PPS round-trips through the parser")
    func avcC() throws {
        let original = try AVCDecoderConfiguration(record: try MediaFixtureFiles.bytes(MediaFixtureFiles.avcHigh720p))
        let rebuilt = try AVCDecoderConfiguration(sequenceParameterSet: try #require(original.sequenceParameterSets.first),
                                                  pictureParameterSets: original.pictureParameterSets)
        #expect(rebuilt.sequenceParameterSets == original.sequenceParameterSets)
        #expect(rebuilt.pictureParameterSets == original.pictureParameterSets)
        #expect(rebuilt.codecString == original.codecString)
        #expect(try rebuilt.parsedSPS() == (try original.parsedSPS()))
    }
}
