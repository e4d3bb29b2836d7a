import NIOCore
import Testing
@testable import MediaFormats

/// Builds transport stream packets by hand, from ISO/IEC 13818-1's syntax.
enum TSBytes {
    static func packet(pid: UInt16, start: Bool, counter: UInt8, randomAccess: Bool = false, payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0x47, (start ? 0x40 : 0) | UInt8(pid >> 8 & 0x1F), UInt8(pid & 0xFF)]
        var body = Array(payload.prefix(184))
        if body.count == 184, !randomAccess {
            bytes.append(0x10 | (counter & 0x0F))
            return bytes + body
        }
        if randomAccess { body = Array(body.prefix(182)) }
        // An adaptation field carries the flags and the stuffing that keeps the packet at 188 bytes.
        bytes.append(0x30 | (counter & 0x0F))
        let fieldLength = 183 - body.count
        bytes.append(UInt8(fieldLength))
        if fieldLength > 0 {
            bytes.append(randomAccess ? 0x40 : 0x00)
            bytes += [UInt8](repeating: 0xFF, count: fieldLength - 1)
        }
        return bytes + body
    }

    static func section(tableID: UInt8, body: [UInt8]) -> [UInt8] {
        let length = body.count + 5 + 4
        return [0x00, tableID, 0xB0 | UInt8(length >> 8), UInt8(length & 0xFF), 0x00, 0x01, 0xC1, 0x00, 0x00] + body + [0, 0, 0, 0]
    }

    static let pat = packet(pid: 0, start: true, counter: 0, payload: section(tableID: 0, body: [0x00, 0x01, 0xF0, 0x00]))
    static let pmt = packet(pid: 0x1000, start: true, counter: 0, payload: section(tableID: 2, body: [
        0xE1, 0x00, 0xF0, 0x00, 0x1B, 0xE1, 0x00, 0xF0, 0x00, 0x0F, 0xE1, 0x01, 0xF0, 0x00,
    ]))

    static func timestamp(_ value: Int64, marker: UInt8) -> [UInt8] {
        [marker << 4 | UInt8(value >> 29 & 0x0E) | 1, UInt8(value >> 22 & 0xFF), UInt8(value >> 14 & 0xFE) | 1,
         UInt8(value >> 7 & 0xFF), UInt8(value << 1 & 0xFE) | 1]
    }

    static func pes(streamID: UInt8 = 0xE0, pts: Int64, dts: Int64? = nil, payload: [UInt8], declareLength: Bool = false) -> [UInt8] {
        var header: [UInt8] = dts == nil ? timestamp(pts, marker: 2) : timestamp(pts, marker: 3) + timestamp(dts ?? 0, marker: 1)
        header = [0x80, dts == nil ? 0x80 : 0xC0, UInt8(header.count)] + header
        let length = declareLength ? header.count + payload.count : 0
        return [0, 0, 1, streamID, UInt8(length >> 8), UInt8(length & 0xFF)] + header + payload
    }
}

extension MediaFixtureFiles {
    /// `ffmpeg -f lavfi -i testsrc2=size=320x180:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 -frames:v 60
    /// -shortest -c:v libx264 -preset veryfast -profile:v high -bf 2 -g 30 -sc_threshold 0 -pix_fmt yuv420p -c:a aac
    /// -b:a 64k -f mpegts`: 60 video frames (keyframes at 0 and 30), 67 AAC frames by ffprobe's count.
    static let ts180p = "h264-aac-320x180-2s.ts"
}

@Suite("MPEG-TS demuxer")
struct MPEGTSDemuxerTests {
    static func units(_ events: [MPEGTSDemuxer.Event]) -> [MPEGTSDemuxer.Unit] {
        events.compactMap { if case let .unit(unit) = $0 { unit } else { nil } }
    }

    static func drops(_ events: [MPEGTSDemuxer.Event]) -> [MPEGTSError] {
        events.compactMap { if case let .dropped(error) = $0 { error } else { nil } }
    }

    @Test("PAT and PMT announce the H.264 and AAC streams; a PES spanning packets comes out whole with its PTS and DTS")
    func tablesAndPES() throws {
        var demuxer = MPEGTSDemuxer()
        let body = [UInt8](repeating: 0xAB, count: 400)
        let pes = TSBytes.pes(pts: 900_000 + 6000, dts: 900_000, payload: body)
        var bytes = TSBytes.pat + TSBytes.pmt
        var counter: UInt8 = 0
        var rest = pes[...]
        while !rest.isEmpty {
            let chunk = Array(rest.prefix(184))
            bytes += TSBytes.packet(pid: 0x100, start: counter == 0, counter: counter, payload: chunk)
            rest = rest.dropFirst(chunk.count)
            counter += 1
        }
        var events = try demuxer.feed(bytes)
        #expect(demuxer.elementaryStreams == [0x100: .h264, 0x101: .aacADTS])
        events += demuxer.flush()
        let units = Self.units(events)
        #expect(units.count == 1)
        #expect(units.first?.payload == body)
        #expect(units.first?.dts == 900_000)
        #expect(units.first?.pts == 906_000)
    }

    @Test("timestamps across the 33-bit wrap keep counting up")
    func wraparound() {
        var clock = MPEGTSTimestampUnwrapper()
        let period = MPEGTSTimestampUnwrapper.period
        #expect(clock.unwrap(period - 3000) == period - 3000)
        #expect(clock.unwrap(0) == period)
        #expect(clock.unwrap(3000) == period + 3000)
        #expect(clock.unwrap(period - 1500) == period - 1500, "a B-frame's PTS just before the wrap stays before it")
    }

    @Test("a PES header's five-byte timestamps decode", arguments: [Int64(0), 1, 90_000, 8_589_934_591, 4_886_718_345])
    func timestampField(value: Int64) {
        #expect(MPEGTSDemuxer.timestamp(TSBytes.timestamp(value, marker: 2)[...]) == value)
    }

    @Test("a PES with a declared length is delivered without waiting for the next")
    func declaredLength() throws {
        var demuxer = MPEGTSDemuxer()
        let pes = TSBytes.pes(streamID: 0xC0, pts: 1234, payload: [1, 2, 3, 4], declareLength: true)
        let events = try demuxer.feed(TSBytes.pat + TSBytes.pmt + TSBytes.packet(pid: 0x101, start: true, counter: 0, payload: pes))
        #expect(Self.units(events).map(\.payload) == [[1, 2, 3, 4]])
        #expect(Self.units(events).first?.dts == 1234)
    }

    @Test("bytes split anywhere demux the same")
    func anySplit() throws {
        let bytes = try MediaFixtureFiles.bytes(MediaFixtureFiles.ts180p)
        var whole = MPEGTSDemuxer()
        let expected = Self.units(try whole.feed(bytes) + whole.flush())
        var split = MPEGTSDemuxer()
        var events: [MPEGTSDemuxer.Event] = []
        var offset = 0
        for size in [1, 187, 189, 1316, 7, 4000].cycled(until: bytes.count) {
            let end = min(bytes.count, offset + size)
            events += try split.feed(bytes[offset..<end])
            offset = end
            if offset == bytes.count { break }
        }
        events += split.flush()
        #expect(Self.units(events) == expected)
    }

    @Test("a continuity gap drops the PES being assembled and says so")
    func continuityGap() throws {
        var demuxer = MPEGTSDemuxer()
        let pes = TSBytes.pes(pts: 3000, payload: [UInt8](repeating: 7, count: 300))
        var bytes = TSBytes.pat + TSBytes.pmt
        bytes += TSBytes.packet(pid: 0x100, start: true, counter: 0, payload: Array(pes.prefix(184)))
        bytes += TSBytes.packet(pid: 0x100, start: false, counter: 2, payload: Array(pes.dropFirst(184)))
        bytes += TSBytes.packet(pid: 0x100, start: true, counter: 3, payload: TSBytes.pes(pts: 6000, payload: [9]))
        let events = try demuxer.feed(bytes) + demuxer.flush()
        #expect(Self.drops(events) == [.continuity(pid: 0x100, expected: 1, got: 2)])
        #expect(Self.units(events).map(\.payload) == [[9]], "only the intact PES comes out")
    }

    @Test("a duplicate packet (same counter) is ignored")
    func duplicate() throws {
        var demuxer = MPEGTSDemuxer()
        let packet = TSBytes.packet(pid: 0x100, start: true, counter: 0, payload: TSBytes.pes(pts: 3000, payload: [5, 5]))
        let events = try demuxer.feed(TSBytes.pat + TSBytes.pmt + packet + packet) + demuxer.flush()
        #expect(Self.drops(events).isEmpty)
        #expect(Self.units(events).count == 1)
    }

    @Test("a PES past the size limit is dropped with an error, not buffered")
    func pesTooLarge() throws {
        var demuxer = MPEGTSDemuxer(maximumPESBytes: 1000)
        var bytes = TSBytes.pat + TSBytes.pmt
        bytes += TSBytes.packet(pid: 0x100, start: true, counter: 0, payload: TSBytes.pes(pts: 0, payload: [UInt8](repeating: 1, count: 170)))
        for counter in 1...20 {
            bytes += TSBytes.packet(pid: 0x100, start: false, counter: UInt8(counter & 0x0F), payload: [UInt8](repeating: 1, count: 184))
        }
        bytes += TSBytes.packet(pid: 0x100, start: true, counter: 5, payload: TSBytes.pes(pts: 3000, payload: [2]))
        let events = try demuxer.feed(bytes) + demuxer.flush()
        #expect(Self.drops(events) == [.pesTooLarge(pid: 0x100, limit: 1000)])
        #expect(Self.units(events).map(\.payload) == [[2]])
    }

    /// Malformed inputs: each throws `lostSync` or is skipped with a `dropped` event; none crashes or buffers without bound.
    static let malformed: [(String, [UInt8], Bool)] = [
        ("bad sync byte", [0x48] + [UInt8](repeating: 0, count: 187), true),
        ("random bytes", (0..<1316).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }, true),
        ("truncated packet", Array(TSBytes.pat.prefix(100)), false),
        ("absurd adaptation field length", [0x47, 0x41, 0x00, 0x30, 0xFF] + [UInt8](repeating: 0, count: 183), false),
        ("PAT with an absurd section length", [0x47, 0x40, 0x00, 0x10, 0x00, 0x00, 0xBF, 0xFF] + [UInt8](repeating: 0xFF, count: 180), false),
        ("PES with an absurd header length", TSBytes.pat + TSBytes.pmt
            + TSBytes.packet(pid: 0x100, start: true, counter: 0, payload: [0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 0xFF, 1, 2, 3]), false),
        ("PES without a start code", TSBytes.pat + TSBytes.pmt
            + TSBytes.packet(pid: 0x100, start: true, counter: 0, payload: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), false),
        ("PES with a PTS flag but no room", TSBytes.pat + TSBytes.pmt
            + TSBytes.packet(pid: 0x100, start: true, counter: 0, payload: [0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 0x01, 0x21]), false),
        ("PES with an absurd declared length", TSBytes.pat + TSBytes.pmt
            + TSBytes.packet(pid: 0x100, start: true, counter: 0, payload: [0, 0, 1, 0xE0, 0, 1, 0x80, 0x00, 0x05, 1, 2, 3, 4, 5, 6]), false),
        ("PMT announcing nothing", TSBytes.pat + TSBytes.packet(pid: 0x1000, start: true, counter: 0, payload: [0, 2, 0xB0, 0x0D, 0, 1, 0xC1, 0, 0, 0xE1, 0, 0xFF, 0xFF, 0, 0, 0, 0]), false),
    ]

    @Test("malformed input throws lostSync or is skipped, never crashes", arguments: malformed.indices)
    func malformedInput(index: Int) throws {
        let (name, bytes, throwsSync) = Self.malformed[index]
        var demuxer = MPEGTSDemuxer(maximumPESBytes: 4096)
        if throwsSync {
            #expect(throws: MPEGTSError.self, "\(name)") { _ = try demuxer.feed(bytes) }
        } else {
            let events = try demuxer.feed(bytes) + demuxer.flush()
            #expect(Self.units(events).allSatisfy { $0.payload.count <= 4096 }, "\(name)")
        }
        var ingest = MPEGTSIngest(maximumPESBytes: 4096)
        _ = try? ingest.feed(bytes)
        _ = ingest.finish()
    }
}

extension Array {
    /// The elements repeated until their sum would cover `total` (for chunk sizes).
    func cycled(until total: Int) -> [Element] where Element == Int {
        var result: [Int] = []
        var sum = 0
        while sum < total, !isEmpty {
            for value in self { result.append(value); sum += value }
        }
        return result
    }
}
