/// A pure MPEG-2 transport stream demuxer (ISO/IEC 13818-1): 188-byte packets in, complete PES payloads of the
/// program's H.264 and AAC (ADTS) streams out, with unwrapped 90 kHz timestamps.
///
/// It follows the first program of the PAT (§2.4.4.3) and that program's PMT (§2.4.4.8); PSI sections must fit in one
/// packet, as every live encoder writes them. Continuity counters (§2.4.3.3) are checked per PID: one duplicate packet
/// is ignored, a gap drops the PES being assembled. Adaptation fields are skipped, honouring the discontinuity and
/// random-access indicators (§2.4.3.5). Memory is bounded: a PES that grows past `maximumPESBytes` is dropped with an
/// error, and at most one partial packet is held between calls.
public struct MPEGTSDemuxer: Sendable {
    public static let packetSize = 188
    public static let syncByte: UInt8 = 0x47

    /// The elementary stream types this demuxer delivers (§2.4.4.9, Table 2-34).
    public enum StreamType: UInt8, Sendable {
        case aacADTS = 0x0F
        case h264 = 0x1B
    }

    /// One complete PES payload.
    public struct Unit: Sendable, Equatable {
        public var pid: UInt16
        public var streamType: StreamType
        /// Presentation time, 90 kHz, unwrapped.
        public var pts: Int64?
        /// Decode time, 90 kHz, unwrapped; equal to `pts` when the PES carries only a PTS.
        public var dts: Int64?
        /// The adaptation field's random_access_indicator on the PES's first packet.
        public var randomAccess: Bool
        public var payload: [UInt8]
    }

    public enum Event: Sendable, Equatable {
        case unit(Unit)
        /// Something was dropped; the demuxer goes on.
        case dropped(MPEGTSError)
    }

    struct Assembly: Sendable {
        var bytes: [UInt8] = []
        var randomAccess = false
        var discarding = false
    }

    public let maximumPESBytes: Int
    private var pending: [UInt8] = []
    private var pmtPID: UInt16?
    private var streams: [UInt16: StreamType] = [:]
    private var continuity: [UInt16: UInt8] = [:]
    private var assemblies: [UInt16: Assembly] = [:]
    private var clock = MPEGTSTimestampUnwrapper()

    /// `maximumPESBytes` bounds one access unit: 4 MiB holds a keyframe of any sane live bitrate.
    public init(maximumPESBytes: Int = 4 << 20) {
        self.maximumPESBytes = maximumPESBytes
    }

    /// The PIDs and types the PMT announced, once it has been read.
    public var elementaryStreams: [UInt16: StreamType] { streams }

    /// Feeds bytes (any split); returns what completed. Throws `lostSync` when a packet does not start with 0x47:
    /// the input is not a transport stream, or it lost alignment, and the caller should close the source.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(MPEGTSError) -> [Event] {
        var events: [Event] = []
        var input = pending
        input.append(contentsOf: bytes)
        pending = []
        var offset = 0
        while input.count - offset >= Self.packetSize {
            guard input[offset] == Self.syncByte else { throw .lostSync(byte: input[offset]) }
            packet(input[offset..<offset + Self.packetSize], into: &events)
            offset += Self.packetSize
        }
        pending = Array(input[offset...])
        return events
    }

    /// Ends the input: the PES of each stream still being assembled is delivered.
    public mutating func flush() -> [Event] {
        var events: [Event] = []
        for pid in assemblies.keys.sorted() { finish(pid: pid, into: &events) }
        return events
    }

    private mutating func packet(_ packet: ArraySlice<UInt8>, into events: inout [Event]) {
        let base = packet.startIndex
        let payloadStart = packet[base + 1] & 0x40 != 0
        let pid = UInt16(packet[base + 1] & 0x1F) << 8 | UInt16(packet[base + 2])
        let adaptation = (packet[base + 3] >> 4) & 0x03
        let counter = packet[base + 3] & 0x0F
        guard pid != 0x1FFF else { return }  // null packets
        var offset = base + 4
        var randomAccess = false
        var discontinuity = false
        if adaptation & 0x02 != 0 {
            let length = Int(packet[offset])
            guard offset + 1 + length <= packet.endIndex else {
                events.append(.dropped(.malformed("adaptation_field_length \(length) on PID \(pid)")))
                return
            }
            if length > 0 {
                discontinuity = packet[offset + 1] & 0x80 != 0
                randomAccess = packet[offset + 1] & 0x40 != 0
            }
            offset += 1 + length
        }
        guard adaptation & 0x01 != 0 else { return }
        // §2.4.3.3: the counter increments on packets with payload; one repeat is a duplicate.
        if let previous = continuity[pid], !discontinuity {
            if counter == previous { return }
            let expected = (previous + 1) & 0x0F
            if counter != expected {
                events.append(.dropped(.continuity(pid: pid, expected: expected, got: counter)))
                if assemblies[pid] != nil { assemblies[pid]?.discarding = true }
            }
        }
        continuity[pid] = counter
        let payload = packet[offset...]

        if pid == 0 {
            if payloadStart { readPAT(payload, into: &events) }
        } else if pid == pmtPID {
            if payloadStart { readPMT(payload, into: &events) }
        } else if streams[pid] != nil {
            if payloadStart {
                finish(pid: pid, into: &events)
                assemblies[pid] = Assembly(bytes: Array(payload), randomAccess: randomAccess)
            } else if var assembly = assemblies[pid], !assembly.discarding {
                assemblies[pid] = nil
                if assembly.bytes.count + payload.count > maximumPESBytes {
                    assembly.discarding = true
                    assembly.bytes = []
                    events.append(.dropped(.pesTooLarge(pid: pid, limit: maximumPESBytes)))
                } else {
                    assembly.bytes.append(contentsOf: payload)
                }
                assemblies[pid] = assembly
            }
            // A PES whose declared length is now complete is delivered without waiting for the next one.
            if let assembly = assemblies[pid], !assembly.discarding, assembly.bytes.count >= 6 {
                let declared = Int(assembly.bytes[4]) << 8 | Int(assembly.bytes[5])
                if declared > 0, assembly.bytes.count >= declared + 6 { finish(pid: pid, into: &events) }
            }
        }
    }

    /// A section's bytes after the pointer field, up to its declared end (CRC excluded).
    private func section(_ payload: ArraySlice<UInt8>, tableID: UInt8) -> ArraySlice<UInt8>? {
        guard let pointer = payload.first else { return nil }
        let start = payload.startIndex + 1 + Int(pointer)
        guard start + 3 <= payload.endIndex, payload[start] == tableID else { return nil }
        let length = Int(payload[start + 1] & 0x0F) << 8 | Int(payload[start + 2])
        let end = start + 3 + length
        guard length >= 9, end <= payload.endIndex else { return nil }
        return payload[start..<end - 4]
    }

    private mutating func readPAT(_ payload: ArraySlice<UInt8>, into events: inout [Event]) {
        guard let table = section(payload, tableID: 0x00) else {
            events.append(.dropped(.malformed("PAT")))
            return
        }
        var offset = table.startIndex + 8
        while offset + 4 <= table.endIndex {
            let program = UInt16(table[offset]) << 8 | UInt16(table[offset + 1])
            let pid = UInt16(table[offset + 2] & 0x1F) << 8 | UInt16(table[offset + 3])
            if program != 0 {
                if pmtPID != pid { streams = [:] }
                pmtPID = pid
                return
            }
            offset += 4
        }
    }

    private mutating func readPMT(_ payload: ArraySlice<UInt8>, into events: inout [Event]) {
        guard let table = section(payload, tableID: 0x02), table.count >= 12 else {
            events.append(.dropped(.malformed("PMT")))
            return
        }
        let infoLength = Int(table[table.startIndex + 10] & 0x0F) << 8 | Int(table[table.startIndex + 11])
        var offset = table.startIndex + 12 + infoLength
        var found: [UInt16: StreamType] = [:]
        while offset + 5 <= table.endIndex {
            let type = table[offset]
            let pid = UInt16(table[offset + 1] & 0x1F) << 8 | UInt16(table[offset + 2])
            let esInfo = Int(table[offset + 3] & 0x0F) << 8 | Int(table[offset + 4])
            if let known = StreamType(rawValue: type) { found[pid] = known }
            offset += 5 + esInfo
        }
        for pid in streams.keys where found[pid] == nil { assemblies[pid] = nil }
        streams = found
    }

    private mutating func finish(pid: UInt16, into events: inout [Event]) {
        guard let assembly = assemblies.removeValue(forKey: pid), !assembly.discarding,
              let type = streams[pid] else { return }
        do throws(MPEGTSError) {
            var unit = try Self.parsePES(assembly.bytes, pid: pid, type: type, randomAccess: assembly.randomAccess)
            if let rawPTS = unit.pts {
                // DTS first: decode order is monotonic, so the unwrapper follows it; PTS keeps its offset from it.
                let rawDTS = unit.dts ?? rawPTS
                let dts = clock.unwrap(rawDTS)
                unit.dts = dts
                unit.pts = dts + ((rawPTS - rawDTS) & (MPEGTSTimestampUnwrapper.period - 1))
            }
            events.append(.unit(unit))
        } catch {
            events.append(.dropped(error))
        }
    }

    /// Parses a PES packet (§2.4.3.6): start code, stream id, length, the optional header with PTS/DTS.
    static func parsePES(_ bytes: [UInt8], pid: UInt16, type: StreamType, randomAccess: Bool) throws(MPEGTSError) -> Unit {
        guard bytes.count >= 9, bytes[0] == 0, bytes[1] == 0, bytes[2] == 1 else {
            throw .malformed("PES start code on PID \(pid)")
        }
        let declared = Int(bytes[4]) << 8 | Int(bytes[5])
        guard bytes[6] & 0xC0 == 0x80 else { throw .malformed("PES header on PID \(pid)") }
        let flags = bytes[7] >> 6
        let headerLength = Int(bytes[8])
        let payloadStart = 9 + headerLength
        guard payloadStart <= bytes.count else { throw .malformed("PES_header_data_length \(headerLength) on PID \(pid)") }
        var pts: Int64?
        var dts: Int64?
        if flags & 0x2 != 0 {
            guard headerLength >= 5 else { throw .malformed("PES PTS on PID \(pid)") }
            pts = timestamp(bytes[9..<14])
            if flags == 0x3 {
                guard headerLength >= 10 else { throw .malformed("PES DTS on PID \(pid)") }
                dts = timestamp(bytes[14..<19])
            }
        }
        var end = bytes.count
        if declared > 0 {
            guard declared + 6 >= payloadStart else { throw .malformed("PES_packet_length \(declared) on PID \(pid)") }
            end = min(end, declared + 6)
        }
        return Unit(pid: pid, streamType: type, pts: pts, dts: dts ?? pts, randomAccess: randomAccess,
                    payload: Array(bytes[payloadStart..<end]))
    }

    /// A 33-bit timestamp in its five-byte marker-bit layout (§2.4.3.7).
    static func timestamp(_ bytes: ArraySlice<UInt8>) -> Int64 {
        let b = Array(bytes)
        return Int64(b[0] >> 1 & 0x07) << 30 | Int64(b[1]) << 22 | Int64(b[2] >> 1) << 15 | Int64(b[3]) << 7 | Int64(b[4] >> 1)
    }
}
