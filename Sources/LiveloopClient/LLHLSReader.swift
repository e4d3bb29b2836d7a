import Foundation
import MediaFormats
import NIOCore

/// An LL-HLS client as a low-latency player runs one: it holds a blocking playlist request for the preload-hinted
/// part while streaming that part, and reports every video frame the moment its `moof`+`mdat` has fully arrived.
///
/// Used by `liveloop bench latency` and the integration tests.
public struct LLHLSReader: Sendable {
    public let host: String
    public let port: Int
    /// e.g. `/live/demo`
    public let basePath: String

    public init(host: String, port: Int, basePath: String) {
        self.host = host
        self.port = port
        self.basePath = basePath
    }

    /// One video frame as it arrived: its decode time in the stream (track 1 tfdt, 90 kHz) and when its last byte came.
    public struct ArrivedFrame: Sendable {
        public var dts: Int64
        public var arrivedAt: ContinuousClock.Instant
    }

    public struct Result: Sendable {
        public var frames: [ArrivedFrame] = []
        public var partsRead = 0
        public var playlistRequests = 0
        public var ended = false
        /// The raw bytes of each part read, by its URI, in order.
        public var parts: [(uri: String, bytes: ByteBuffer)] = []
        public var lastPlaylist: ParsedMediaPlaylist?
    }

    public enum ReaderError: Error { case status(Int, String) }

    /// Follows the live edge until `deadline` or `EXT-X-ENDLIST`. Keeps part bytes when `keepBytes` is set.
    public func follow(until deadline: ContinuousClock.Instant, keepBytes: Bool = false) async throws -> Result {
        var result = Result()
        let (host, port, basePath) = (self.host, self.port, self.basePath)
        try await HTTPConnection.with(host: host, port: port) { partConnection in
                var response = try await partConnection.get("\(basePath)/media.m3u8")
                result.playlistRequests += 1
                guard response.status == 200 else { throw ReaderError.status(response.status, "media.m3u8") }
                var playlist = ParsedMediaPlaylist(String(buffer: response.body))
                var lastRead: (Int, Int)?
                while ContinuousClock.now < deadline {
                    result.lastPlaylist = playlist
                    if playlist.ended { result.ended = true; break }
                    guard let hint = playlist.preloadHint, let (msn, part) = Self.position(of: hint) else {
                        // Nothing being written (the publisher is away): wait for the next segment or the end.
                        response = try await partConnection.get("\(basePath)/media.m3u8?_HLS_msn=\(playlist.openSegmentSequence)")
                        result.playlistRequests += 1
                        if response.status == 200 { playlist = ParsedMediaPlaylist(String(buffer: response.body)) }
                        continue
                    }
                    // Parts completed since the last one read (the reader fell behind): fetch them whole first.
                    if let last = lastRead {
                        for missed in playlist.parts where (missed.msn, missed.index) > last && (missed.msn, missed.index) < (msn, part) {
                            var assembler = FrameAssembler()
                            let missedResponse = try await partConnection.get("\(basePath)/\(missed.uri)")
                            let now = ContinuousClock.now
                            if missedResponse.status == 200 {
                                result.frames += assembler.append(missedResponse.body).map { ArrivedFrame(dts: $0, arrivedAt: now) }
                                result.partsRead += 1
                                if keepBytes { result.parts.append((missed.uri, missedResponse.body)) }
                            }
                        }
                    }
                    lastRead = (msn, part)
                    // Block on the playlist that will hold the hinted part while the part itself streams in.
                    // (A connection of its own per blocking request: on loopback a connect costs microseconds.)
                    let path = "\(basePath)/media.m3u8?_HLS_msn=\(msn)&_HLS_part=\(part)"
                    async let next = HTTPConnection.with(host: host, port: port) { try await $0.get(path) }
                    var assembler = FrameAssembler()
                    var frames: [ArrivedFrame] = []
                    let partResponse = try await partConnection.get("\(basePath)/\(hint)") { piece in
                        let now = ContinuousClock.now
                        for dts in assembler.append(piece) { frames.append(ArrivedFrame(dts: dts, arrivedAt: now)) }
                    }
                    response = try await next
                    result.playlistRequests += 1
                    if partResponse.status == 200 {
                        result.partsRead += 1
                        result.frames += frames
                        if keepBytes { result.parts.append((hint, partResponse.body)) }
                    }
                    guard response.status == 200 else {
                        if response.status == 503 { continue }
                        throw ReaderError.status(response.status, "blocking reload")
                    }
                    playlist = ParsedMediaPlaylist(String(buffer: response.body))
                }
        }
        return result
    }

    /// `partM.P.m4s` → (M, P).
    static func position(of uri: String) -> (Int, Int)? {
        guard uri.hasPrefix("part"), uri.hasSuffix(".m4s") else { return nil }
        let numbers = uri.dropFirst(4).dropLast(4).split(separator: ".")
        guard numbers.count == 2, let m = Int(numbers[0]), let p = Int(numbers[1]) else { return nil }
        return (m, p)
    }
}

/// Cuts a byte stream of CMAF chunks into whole `moof`+`mdat` pairs and returns the decode times of the video
/// samples (track 1) each completed pair carries.
struct FrameAssembler {
    private var pending = ByteBuffer()
    private var moof: ISOBox?

    mutating func append(_ piece: ByteBuffer) -> [Int64] {
        var piece = piece
        pending.writeBuffer(&piece)
        var dts: [Int64] = []
        while pending.readableBytes >= 8,
              let size = pending.getInteger(at: pending.readerIndex, as: UInt32.self),
              size >= 8, pending.readableBytes >= Int(size),
              let box = pending.readSlice(length: Int(size)) {
            guard let parsed = try? ISOBMFFReader.boxes(in: box).first else { continue }
            if parsed.type == "moof" {
                moof = parsed
            } else if parsed.type == "mdat", let moof {
                dts += Self.videoDecodeTimes(moof)
                self.moof = nil
            }
        }
        pending.discardReadBytes()
        return dts
    }

    static func videoDecodeTimes(_ moof: ISOBox) -> [Int64] {
        var times: [Int64] = []
        for traf in moof.children("traf") {
            guard let tfhd = try? traf.child("tfhd")?.decodeTrackFragmentHeader(), tfhd.trackID == 1,
                  let base = try? traf.child("tfdt")?.decodeBaseMediaDecodeTime(),
                  let trun = try? traf.child("trun")?.decodeTrackRun()
            else { continue }
            var t = Int64(base)
            for sample in trun.samples {
                times.append(t)
                t += Int64(sample.duration ?? 0)
            }
        }
        return times
    }
}
