import DequeModule
import Foundation
import LiveMedia
import MediaFormats
import NIOCore
import Testing

/// Codec configurations ffmpeg wrote (copied from Tests/MediaFormatsTests/Fixtures, see README-media.md there).
enum CodecFixtures {
    /// `h264-high-1280x720-30fps.avcC`
    static let avcHigh720p: [UInt8] = [
        0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x1a, 0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01,
        0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60, 0x01, 0x00, 0x06, 0x68,
        0xeb, 0xe3, 0xcb, 0x22, 0xc0, 0xfd, 0xf8, 0xf8, 0x00,
    ]
    /// `aac-lc-48000-stereo.asc`
    static let aacStereo48k: [UInt8] = [0x11, 0x90, 0x56, 0xe5, 0x00]
    /// `aac-lc-44100-mono.asc`
    static let aacMono44k: [UInt8] = [0x12, 0x08, 0x56, 0xe5, 0x00]

    static func muxer(video: Bool = true, audio: [UInt8]? = aacStereo48k) throws -> CMAFMuxer {
        CMAFMuxer(
            video: video ? try AVCDecoderConfiguration(record: avcHigh720p) : nil,
            audio: try audio.map { try AudioSpecificConfig(bytes: $0) }
        )
    }
}

/// A made-up stream with the timing of a real RTMP one: millisecond timestamps (×90), video and AAC interleaved in
/// decode order. Every frame's bytes are unique, so a frame can be found again in the packaged output.
struct SyntheticStream {
    var fps: Double = 30
    var keyframeInterval: Double = 1
    var audioRate: Int? = 48_000
    /// Composition offset of every video frame, in frames (a constant B-frame delay).
    var compositionFrames: Int64 = 2

    func frames(seconds: Double, startingAt start: Int64 = 0, serial: UInt32 = 0) -> [MediaFrame] {
        var frames: [MediaFrame] = []
        var serial = serial
        func payload(_ header: [UInt8]) -> ByteBuffer {
            serial += 1
            return ByteBuffer(bytes: header + [UInt8(serial >> 24), UInt8((serial >> 16) & 0xFF), UInt8((serial >> 8) & 0xFF), UInt8(serial & 0xFF)])
        }
        let gop = max(1, Int((keyframeInterval * fps).rounded()))
        let videoCount = Int((seconds * fps).rounded())
        let audioCount = audioRate.map { Int((seconds * Double($0) / 1024).rounded()) } ?? 0
        var v = 0
        var a = 0
        func ms(_ seconds: Double) -> Int64 { Int64((seconds * 1000).rounded()) * 90 }
        while v < videoCount || a < audioCount {
            let videoTime = v < videoCount ? ms(Double(v) / fps) : .max
            let audioTime = a < audioCount ? ms(Double(a) * 1024 / Double(audioRate ?? 1)) : .max
            if audioTime <= videoTime {
                frames.append(MediaFrame(track: .audio, pts: start + audioTime, dts: start + audioTime, isKeyframe: true, data: payload([0x21, 0x10])))
                a += 1
            } else {
                let keyframe = v % gop == 0
                let offset = ms(Double(compositionFrames) / fps)
                frames.append(MediaFrame(
                    track: .video, pts: start + videoTime + offset, dts: start + videoTime, isKeyframe: keyframe,
                    data: payload([0, 0, 0, 5, keyframe ? 0x65 : 0x41])
                ))
                v += 1
            }
        }
        return frames
    }
}

/// The bundled demo clip (DemoSource): 640x360 H.264 High with B-frames, GOP 30 at 30 fps, AAC 48 kHz.
struct DemoClip {
    var video: [UInt8]
    var audio: [UInt8]
    var frames: [MediaFrame]

    init() throws {
        let source = try DemoSource()
        var video: [UInt8]?
        var audio: [UInt8]?
        var frames: [MediaFrame] = []
        for (_, event) in source.events {
            switch event {
            case let .videoConfiguration(record): video = video ?? record
            case let .audioConfiguration(config): audio = audio ?? config
            case let .frame(frame): frames.append(frame)
            case .metadata: break
            }
        }
        self.video = try #require(video)
        self.audio = try #require(audio)
        self.frames = frames
    }

    func muxer() throws -> CMAFMuxer {
        CMAFMuxer(video: try AVCDecoderConfiguration(record: video), audio: try AudioSpecificConfig(bytes: audio))
    }

    /// The frames the packager keeps: from the first video keyframe on.
    var framesFromFirstKeyframe: [MediaFrame] {
        Array(frames.drop { !($0.track == .video && $0.isKeyframe) })
    }
}

let testEpoch = Date(timeIntervalSince1970: 1_750_000_000)

/// A packager with its output collected.
struct PackagingRun {
    var packager: HLSPackager
    var events: [PackagerEvent] = []

    init(configuration: HLSConfiguration = HLSConfiguration(), muxer: CMAFMuxer) {
        packager = HLSPackager(configuration: configuration, clock: StreamClock(anchorMediaTime: 0, anchorWallClock: testEpoch))
        packager.configure(muxer)
    }

    mutating func append(_ frames: some Sequence<MediaFrame>) {
        for frame in frames { events += packager.append(frame) }
    }

    /// The complete segments still held, oldest first.
    var segments: [Segment] { Array(packager.segments) }

    /// Every part in order: those of complete segments, then the completed and open parts of the open segment.
    var allParts: [(msn: Int, part: Part)] {
        var parts: [(Int, Part)] = []
        for segment in packager.segments { parts += segment.parts.map { (segment.sequenceNumber, $0) } }
        if let open = packager.openSegment { parts += open.parts.map { (open.sequenceNumber, $0) } }
        return parts
    }

    /// Parts whose duration is known: all but the open one.
    var completedParts: [(msn: Int, part: Part)] {
        var parts = allParts
        if packager.openPartPosition != nil { parts.removeLast() }
        return parts
    }

    var playlist: MediaPlaylist { MediaPlaylist(packager.renderMediaPlaylist()) }
}

// MARK: Reading what the packager wrote

/// One sample of a CMAF chunk, as a player would read it.
struct ChunkSample: Equatable {
    var trackID: UInt32
    var decodeTime: UInt64
    var duration: UInt32
    var isSync: Bool
    var compositionOffset: Int64
    var data: [UInt8]
}

/// One track run of a chunk: its `tfdt` and samples.
struct ChunkRun {
    var trackID: UInt32
    var baseDecodeTime: UInt64
    var samples: [ChunkSample]
}

/// Reads every `moof`+`mdat` in `buffer` with ISOBMFFReader and returns the runs, in order.
func chunkRuns(in buffer: ByteBuffer) throws -> [ChunkRun] {
    var runs: [ChunkRun] = []
    for moof in try ISOBMFFReader.boxes(in: buffer) where moof.type == "moof" {
        for traf in moof.children("traf") {
            let trackID = try #require(try traf.child("tfhd")?.decodeTrackFragmentHeader()).trackID
            let base = try #require(try traf.child("tfdt")?.decodeBaseMediaDecodeTime())
            let trun = try #require(try traf.child("trun")?.decodeTrackRun())
            var position = moof.offset + Int(try #require(trun.dataOffset))
            var time = base
            var samples: [ChunkSample] = []
            for entry in trun.samples {
                let size = Int(try #require(entry.size))
                let flags = entry.flags ?? trun.firstSampleFlags ?? 0
                let data = try #require(buffer.getBytes(at: buffer.readerIndex + position, length: size))
                samples.append(ChunkSample(
                    trackID: trackID, decodeTime: time, duration: entry.duration ?? 0, isSync: flags & 0x0001_0000 == 0,
                    compositionOffset: entry.compositionOffset ?? 0, data: data
                ))
                position += size
                time += UInt64(entry.duration ?? 0)
            }
            runs.append(ChunkRun(trackID: trackID, baseDecodeTime: base, samples: samples))
        }
    }
    return runs
}

func chunkSamples(in buffer: ByteBuffer) throws -> [ChunkSample] {
    try chunkRuns(in: buffer).flatMap(\.samples)
}

func concatenated(_ buffers: [ByteBuffer]) -> [UInt8] {
    buffers.flatMap { $0.getBytes(at: $0.readerIndex, length: $0.readableBytes) ?? [] }
}

extension ByteBuffer {
    var bytes: [UInt8] { getBytes(at: readerIndex, length: readableBytes) ?? [] }
}

/// A media playlist read back line by line, the way a player reads it.
struct MediaPlaylist {
    struct PartLine: Equatable {
        var uri: String
        var duration: Double
        var independent: Bool
    }

    struct SegmentLines {
        var uri: String
        var duration: Double
        var programDateTime: Date?
        var discontinuity: Bool
        var map: String?
        var parts: [PartLine]
    }

    var text: String
    var lines: [String]
    var segments: [SegmentLines] = []
    /// Parts listed after the last segment: the completed parts of the open segment.
    var trailingParts: [PartLine] = []
    var preloadHint: String?
    var endList = false

    init(_ text: String) {
        self.text = text
        lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var pending = SegmentLines(uri: "", duration: 0, discontinuity: false, parts: [])
        var duration = 0.0
        for line in lines {
            if line == "#EXT-X-DISCONTINUITY" {
                pending.discontinuity = true
            } else if line.hasPrefix("#EXT-X-MAP:") {
                pending.map = Self.attribute("URI", in: line)
            } else if line.hasPrefix("#EXT-X-PROGRAM-DATE-TIME:") {
                pending.programDateTime = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(String(line.dropFirst(25)))
            } else if line.hasPrefix("#EXT-X-PART:") {
                pending.parts.append(PartLine(
                    uri: Self.attribute("URI", in: line) ?? "", duration: Double(Self.attribute("DURATION", in: line) ?? "") ?? -1,
                    independent: Self.attribute("INDEPENDENT", in: line) == "YES"
                ))
            } else if line.hasPrefix("#EXTINF:") {
                duration = Double(line.dropFirst(8).split(separator: ",").first ?? "") ?? -1
            } else if line.hasPrefix("#EXT-X-PRELOAD-HINT:") {
                preloadHint = Self.attribute("URI", in: line)
            } else if line == "#EXT-X-ENDLIST" {
                endList = true
            } else if !line.isEmpty, !line.hasPrefix("#") {
                pending.uri = line
                pending.duration = duration
                segments.append(pending)
                pending = SegmentLines(uri: "", duration: 0, discontinuity: false, parts: [])
            }
        }
        trailingParts = pending.parts
    }

    /// The value after `#TAG:` of the first line with that tag.
    func tag(_ name: String) -> String? {
        lines.first { $0.hasPrefix(name + ":") }.map { String($0.dropFirst(name.count + 1)) }
    }

    func number(_ name: String) -> Double? { tag(name).flatMap(Double.init) }

    /// An attribute of an attribute-list tag (`#EXT-X-SERVER-CONTROL`, `#EXT-X-PART`…), quotes removed.
    func attribute(_ name: String, of tagName: String) -> String? {
        lines.first { $0.hasPrefix(tagName + ":") }.flatMap { Self.attribute(name, in: $0) }
    }

    static func attribute(_ name: String, in line: String) -> String? {
        guard let colon = line.firstIndex(of: ":") else { return nil }
        for pair in line[line.index(after: colon)...].split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == name { return parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        return nil
    }

    var mediaSequence: Int? { tag("#EXT-X-MEDIA-SEQUENCE").flatMap { Int($0) } }
    var discontinuitySequence: Int? { tag("#EXT-X-DISCONTINUITY-SEQUENCE").flatMap { Int($0) } }
    var allParts: [PartLine] { segments.flatMap(\.parts) + trailingParts }

    /// Each listed segment's Discontinuity Sequence Number (RFC 8216 §4.3.3.3, §6.2.2): the playlist's
    /// EXT-X-DISCONTINUITY-SEQUENCE plus the EXT-X-DISCONTINUITY tags up to and including the segment's own.
    var discontinuityNumbers: [String: Int] {
        var number = discontinuitySequence ?? 0
        var numbers: [String: Int] = [:]
        for segment in segments {
            if segment.discontinuity { number += 1 }
            numbers[segment.uri] = number
        }
        return numbers
    }
}
