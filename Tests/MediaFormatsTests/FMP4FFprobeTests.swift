import Foundation
import MediaFormats
import NIOCore
import Testing

/// The strongest check we have that the init segment and fragments are real CMAF: build them from H.264/AAC that
/// ffmpeg encoded (an FLV, so the samples are exactly what RTMP ingest delivers) and have ffprobe decode every frame.
@Suite("CMAF output decodes in ffprobe", .enabled(if: FFprobeRunner.path != nil, "ffprobe is not installed"))
struct FMP4FFprobeTests {
    @Test("init segment + one fragment per GOP from real FLV samples: every frame decodes, timestamps intact")
    func decodesEveryFrame() throws {
        let flv = try FLVFixtureSamples(bytes: MediaFixtureFiles.bytes(MediaFixtureFiles.flv360p))
        let avc = try AVCDecoderConfiguration(record: flv.avcRecord)
        let aac = try AudioSpecificConfig(bytes: flv.audioSpecificConfig)
        let sps = try avc.parsedSPS()
        #expect(sps.width == 640 && sps.height == 360)
        #expect(flv.video.contains { $0.compositionOffset > 0 })  // B-frames: composition offsets are exercised

        let audioRate = UInt32(aac.samplingFrequency)
        var file = FMP4.initSegment(tracks: [
            FMP4.Track(id: 1, timescale: 90000, kind: .video(avc, width: sps.width, height: sps.height)),
            FMP4.Track(id: 2, timescale: audioRate, kind: .audio(aac)),
        ])

        // Cut a fragment at each keyframe; audio goes with the GOP it starts in.
        let keyframeIndices = flv.video.indices.filter { flv.video[$0].isKeyframe }
        #expect(keyframeIndices.count >= 2)
        var audioIndex = 0
        var sequenceNumber: UInt32 = 1
        for (gop, start) in keyframeIndices.enumerated() {
            let end = gop + 1 < keyframeIndices.count ? keyframeIndices[gop + 1] : flv.video.count
            let videoSamples = flv.video[start..<end].enumerated().map { offset, frame in
                let next = start + offset + 1
                let duration = next < flv.video.count ? flv.video[next].dts - frame.dts : 3000
                return FMP4.Sample(
                    duration: UInt32(duration), isSync: frame.isKeyframe, compositionOffset: Int32(frame.compositionOffset),
                    data: ByteBuffer(bytes: frame.data))
            }
            let gopEnd = end < flv.video.count ? flv.video[end].dts : Int64.max
            var audioSamples: [FMP4.Sample] = []
            let audioStart = audioIndex
            while audioIndex < flv.audio.count && flv.audio[audioIndex].dts < gopEnd {
                audioSamples.append(FMP4.Sample(duration: 1024, isSync: true, data: ByteBuffer(bytes: flv.audio[audioIndex].data)))
                audioIndex += 1
            }
            var runs = [FMP4.TrackRun(trackID: 1, baseDecodeTime: UInt64(flv.video[start].dts), samples: videoSamples)]
            if !audioSamples.isEmpty {
                runs.append(FMP4.TrackRun(trackID: 2, baseDecodeTime: UInt64(audioStart) * 1024, samples: audioSamples))
            }
            var fragment = FMP4.fragment(sequenceNumber: sequenceNumber, runs: runs)
            if gop == 1 {
                // An emsg and a prft between fragments must not disturb a player.
                var emsg = FMP4.eventMessage(
                    schemeIDURI: "urn:liveloop:cue", value: "poll", timescale: 90000,
                    presentationTime: UInt64(flv.video[start].dts), duration: 90000, id: 1, message: Array("{}".utf8))
                var prft = FMP4.producerReferenceTime(
                    referenceTrackID: 1, ntpTimestamp: FMP4.ntpTimestamp(unixSeconds: 1_767_225_600),
                    mediaTime: UInt64(flv.video[start].dts), flags: FMP4.ProducerReferenceTime.realTime)
                file.writeBuffer(&emsg)
                file.writeBuffer(&prft)
            }
            file.writeBuffer(&fragment)
            sequenceNumber += 1
        }
        #expect(audioIndex == flv.audio.count)

        let url = FileManager.default.temporaryDirectory.appendingPathComponent("liveloop-cmaf-\(UUID().uuidString).mp4")
        try Data(file.readableBytesView).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }

        let frames = try FFprobeRunner.run([
            "-v", "error", "-show_entries", "frame=media_type,pts", "-of", "csv=p=0", url.path,
        ])
        #expect(frames.errors.isEmpty, "ffprobe reported: \(frames.errors)")
        let rows = frames.output.split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        let videoPTS = rows.filter { $0.first == "video" }.compactMap { $0.count > 1 ? Int64($0[1]) : nil }
        let audioFrames = rows.filter { $0.first == "audio" }.count
        #expect(videoPTS.count == flv.video.count)
        #expect(audioFrames == flv.audio.count)
        #expect(videoPTS.sorted() == flv.video.map { $0.dts + $0.compositionOffset }.sorted())

        let streams = try FFprobeRunner.run([
            "-v", "error", "-show_entries", "stream=codec_name,profile,width,height,sample_rate,channels", "-of", "csv=p=0",
            url.path,
        ])
        #expect(streams.errors.isEmpty)
        let lines = streams.output.split(separator: "\n").map(String.init)
        #expect(lines.first == "h264,High,640,360")
        #expect(lines.last == "aac,LC,44100,2")
    }
}

/// Where ffprobe is, and running it.
enum FFprobeRunner {
    static let path: String? = {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        return directories.map { "\($0)/ffprobe" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static func run(_ arguments: [String]) throws -> (output: String, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path ?? "/usr/bin/ffprobe")
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
    }
}

/// The H.264 and AAC samples of an FLV file (Adobe FLV spec v10.1 §E.4): just enough tag parsing for the test.
struct FLVFixtureSamples {
    struct Frame {
        var dts: Int64  // 90 kHz for video, ms for audio
        var compositionOffset: Int64  // 90 kHz
        var isKeyframe: Bool
        var data: [UInt8]
    }

    struct Malformed: Error {}

    var avcRecord: [UInt8] = []
    var audioSpecificConfig: [UInt8] = []
    var video: [Frame] = []
    var audio: [Frame] = []

    init(bytes: [UInt8]) throws {
        guard bytes.count > 13, bytes[0..<3] == [0x46, 0x4C, 0x56] else { throw Malformed() }
        var offset = Int(bytes[5]) << 24 | Int(bytes[6]) << 16 | Int(bytes[7]) << 8 | Int(bytes[8])
        offset += 4  // PreviousTagSize0
        while offset + 11 <= bytes.count {
            let type = bytes[offset]
            let size = Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            let timestamp =
                Int64(bytes[offset + 7]) << 24 | Int64(bytes[offset + 4]) << 16 | Int64(bytes[offset + 5]) << 8
                | Int64(bytes[offset + 6])
            let body = offset + 11
            guard body + size <= bytes.count else { throw Malformed() }
            let tag = Array(bytes[body..<body + size])
            switch type {
            case 9 where tag.count >= 5 && tag[0] & 0x0F == 7:
                let composition = Int32(bitPattern: UInt32(tag[2]) << 24 | UInt32(tag[3]) << 16 | UInt32(tag[4]) << 8) >> 8
                if tag[1] == 0 {
                    avcRecord = Array(tag[5...])
                } else if tag[1] == 1 {
                    video.append(
                        Frame(
                            dts: timestamp * 90, compositionOffset: Int64(composition) * 90, isKeyframe: tag[0] >> 4 == 1,
                            data: Array(tag[5...])))
                }
            case 8 where tag.count >= 2 && tag[0] >> 4 == 10:
                if tag[1] == 0 {
                    audioSpecificConfig = Array(tag[2...])
                } else {
                    audio.append(Frame(dts: timestamp, compositionOffset: 0, isKeyframe: true, data: Array(tag[2...])))
                }
            default:
                break
            }
            offset = body + size + 4
        }
    }
}
