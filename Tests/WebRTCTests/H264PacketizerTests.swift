import Testing
@testable import WebRTC

@Suite("H.264 RTP packetization (RFC 6184)")
struct H264PacketizerTests {
    static let sps: [UInt8] = [0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9]
    static let pps: [UInt8] = [0x68, 0xeb, 0xe3, 0xcb]

    @Test("a keyframe starts with a STAP-A of SPS and PPS; small NAL units go alone; the last packet has the marker")
    func keyframe() {
        let idr: [UInt8] = [0x65] + [UInt8](repeating: 7, count: 50)
        let sei: [UInt8] = [0x06, 1, 2, 3]
        let payloads = H264Packetizer.payloads(nalUnits: [sei[...], idr[...]], parameterSets: [Self.sps, Self.pps], maximumPayload: 1150)
        #expect(payloads.count == 3)
        #expect(payloads[0].bytes == [0x60 | 24, 0, 6] + Self.sps + [0, 4] + Self.pps)
        #expect(payloads[1].bytes == sei)
        #expect(payloads[2].bytes == idr)
        #expect(payloads.map(\.marker) == [false, false, true])
    }

    @Test("a NAL unit larger than the payload limit becomes FU-A fragments that reassemble to it")
    func fragmentation() {
        let nal: [UInt8] = [0x65] + (0..<3000).map { UInt8($0 & 0xFF) }
        let payloads = H264Packetizer.payloads(nalUnits: [nal[...]], maximumPayload: 1000)
        #expect(payloads.count == 4)
        #expect(payloads.allSatisfy { $0.bytes.count <= 1000 && $0.bytes[0] == 0x60 | 28 })
        let start: UInt8 = 0x85, end: UInt8 = 0x45
        #expect(payloads.first.map { $0.bytes[1] } == start)
        #expect(payloads.last.map { $0.bytes[1] } == end)
        #expect(payloads.dropFirst().dropLast().allSatisfy { $0.bytes[1] == 5 })
        let rebuilt = [UInt8(0x65)] + payloads.flatMap { $0.bytes.dropFirst(2) }
        #expect(rebuilt == nal)
        #expect(payloads.map(\.marker) == [false, false, false, true])
    }

    @Test("length-prefixed samples split into NAL units; access unit delimiters are left out; a bad length stops the walk")
    func samples() {
        let sample: [UInt8] = [0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 3, 0x41, 1, 2, 0, 0, 0, 99, 0x41]
        let units = H264Packetizer.nalUnits(in: sample, lengthSize: 4)
        #expect(units.map(Array.init) == [[0x09, 0xf0], [0x41, 1, 2]])
        let payloads = H264Packetizer.payloads(nalUnits: units, maximumPayload: 1150)
        #expect(payloads.map(\.bytes) == [[0x41, 1, 2]])
        #expect(H264Packetizer.nalUnits(in: sample, lengthSize: 7).isEmpty)
    }
}

@Suite("RTCP sender reports and feedback (RFC 3550, RFC 4585)")
struct RTCPTests {
    @Test("a sender report carries the NTP time, the RTP timestamp and the counts, then an SDES CNAME")
    func senderReport() {
        let report = RTCP.senderReport(ssrc: 0xAABB_CCDD, ntp: 0x0102_0304_0506_0708, rtpTimestamp: 0x1122_3344,
                                       packets: 10, octets: 1000, cname: "liveloop")
        #expect(report.count % 4 == 0)
        #expect(Array(report[0..<4]) == [0x80, 200, 0, 6])
        #expect(Array(report[8..<20]) == [1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x22, 0x33, 0x44])
        #expect(report[29] == 202)
        #expect(RTCP.isRTCP(report))
        #expect(RTCP.parse(report, mediaSSRC: 1) == [.receiverReport])
    }

    @Test("NACK, PLI and FIR for our SSRC are read; for another SSRC they are ignored; a bad length stops the walk")
    func feedback() {
        let ssrc: UInt32 = 0x0000_1234
        let nack: [UInt8] = [0x81, 205, 0, 3, 0, 0, 0, 9, 0, 0, 0x12, 0x34, 0x00, 0x10, 0b0000_0000, 0b0000_0101]
        let pli: [UInt8] = [0x81, 206, 0, 2, 0, 0, 0, 9, 0, 0, 0x12, 0x34]
        let fir: [UInt8] = [0x84, 206, 0, 4, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 1, 0, 0, 0]
        let rr: [UInt8] = [0x80, 201, 0, 1, 0, 0, 0, 9]
        #expect(RTCP.parse(rr + nack + pli + fir, mediaSSRC: ssrc) == [.receiverReport, .nack([16, 17, 19]), .pictureLoss, .fullIntraRequest])
        #expect(RTCP.parse(nack + pli, mediaSSRC: 99) == [])
        #expect(RTCP.parse(rr + [0x81, 205, 0, 40, 1, 2], mediaSSRC: ssrc) == [.receiverReport])
        #expect(!RTCP.isRTCP([0x80, 102, 0, 1, 0, 0, 0, 0]))
    }
}
