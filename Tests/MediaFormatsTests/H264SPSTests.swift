import MediaFormats
import Testing

@Suite("H264SPS: sequence parameter sets (ITU-T H.264 §7.3.2.1.1)")
struct H264SPSTests {
    struct RealSPS: Sendable, CustomTestStringConvertible {
        var fixture: String
        var profile: UInt8
        var level: UInt8
        var width: Int
        var height: Int
        var frameRate: Double
        var testDescription: String { fixture }
    }

    @Test("parses SPS bytes that x264 wrote: profile, level, cropped size and VUI frame rate", arguments: [
        RealSPS(fixture: MediaFixtureFiles.avcHigh720p, profile: 100, level: 31, width: 1280, height: 720, frameRate: 30),
        RealSPS(fixture: MediaFixtureFiles.avcHigh1080p, profile: 100, level: 40, width: 1920, height: 1080, frameRate: 25),
        RealSPS(fixture: MediaFixtureFiles.avcBaseline240p, profile: 66, level: 13, width: 320, height: 240, frameRate: 24),
    ])
    func realSPS(_ expected: RealSPS) throws {
        let configuration = try AVCDecoderConfiguration(record: MediaFixtureFiles.bytes(expected.fixture))
        let sps = try configuration.parsedSPS()
        #expect(sps.profileIDC == expected.profile)
        #expect(sps.levelIDC == expected.level)
        #expect(sps.width == expected.width)
        #expect(sps.height == expected.height)
        #expect(sps.frameRate == expected.frameRate)
        #expect(sps.chromaFormatIDC == 1)
        #expect(sps.bitDepthLuma == 8)
        #expect(sps.frameMBsOnly)
    }

    @Test("the 1080p SPS codes 1088 lines and crops 8: the crop unit for 4:2:0 is two lines")
    func croppedTo1080() throws {
        let configuration = try AVCDecoderConfiguration(record: MediaFixtureFiles.bytes(MediaFixtureFiles.avcHigh1080p))
        let sps = try configuration.parsedSPS()
        #expect(sps.height == 1080)
        #expect(sps.height % 16 != 0)
    }

    /// Options for an SPS built from the syntax table, to reach branches x264 never writes.
    struct Built {
        var profile: UInt8 = 100
        var chromaFormat: UInt32 = 1
        var bitDepthLumaMinus8: UInt32 = 0
        var scalingLists: Bool = true
        var picOrderCntType: UInt32 = 1
        var widthInMBs: UInt32 = 120
        var heightInMapUnits: UInt32 = 34
        var frameMBsOnly = false
        var crop: (left: UInt32, right: UInt32, top: UInt32, bottom: UInt32)? = (0, 0, 0, 2)
        var timing: (numUnitsInTick: UInt32, timeScale: UInt32)? = (1001, 60000)

        func nalUnit() -> [UInt8] {
            var w = ExpGolombBitWriter()
            w.bits(UInt64(profile), count: 8)
            w.bits(0, count: 8)  // constraint flags
            w.bits(40, count: 8)  // level_idc
            w.ue(0)  // seq_parameter_set_id
            if [100, 110, 122, 244].contains(profile) {
                w.ue(chromaFormat)
                if chromaFormat == 3 { w.bit(false) }  // separate_colour_plane_flag
                w.ue(bitDepthLumaMinus8)
                w.ue(bitDepthLumaMinus8)
                w.bit(false)  // qpprime_y_zero_transform_bypass_flag
                w.bit(scalingLists)
                if scalingLists {
                    for index in 0..<(chromaFormat == 3 ? 12 : 8) {
                        let present = index % 3 == 0
                        w.bit(present)
                        guard present else { continue }
                        let size = index < 6 ? 16 : 64
                        if index == 6 {
                            w.se(-8)  // nextScale becomes 0 at once: "use default" ends the list after one code
                        } else {
                            for j in 0..<size { w.se(j % 2 == 0 ? 3 : -2) }
                        }
                    }
                }
            }
            w.ue(0)  // log2_max_frame_num_minus4
            w.ue(picOrderCntType)
            if picOrderCntType == 0 {
                w.ue(2)
            } else if picOrderCntType == 1 {
                w.bit(false)
                w.se(-2)
                w.se(1)
                w.ue(2)  // num_ref_frames_in_pic_order_cnt_cycle
                w.se(5)
                w.se(-7)
            }
            w.ue(4)  // max_num_ref_frames
            w.bit(false)  // gaps_in_frame_num_value_allowed_flag
            w.ue(widthInMBs - 1)
            w.ue(heightInMapUnits - 1)
            w.bit(frameMBsOnly)
            if !frameMBsOnly { w.bit(true) }  // mb_adaptive_frame_field_flag
            w.bit(true)  // direct_8x8_inference_flag
            w.bit(crop != nil)
            if let crop {
                w.ue(crop.left)
                w.ue(crop.right)
                w.ue(crop.top)
                w.ue(crop.bottom)
            }
            w.bit(true)  // vui_parameters_present_flag
            w.bit(true)  // aspect_ratio_info_present_flag
            w.bits(255, count: 8)  // Extended_SAR
            w.bits(1, count: 16)
            w.bits(1, count: 16)
            w.bit(false)  // overscan_info_present_flag
            w.bit(true)  // video_signal_type_present_flag
            w.bits(5, count: 3)
            w.bit(false)
            w.bit(true)  // colour_description_present_flag
            w.bits(0x010101, count: 24)
            w.bit(true)  // chroma_loc_info_present_flag
            w.ue(0)
            w.ue(0)
            w.bit(timing != nil)
            if let timing {
                w.bits(UInt64(timing.numUnitsInTick), count: 32)
                w.bits(UInt64(timing.timeScale), count: 32)
                w.bit(true)
            }
            w.bit(false)  // nal_hrd_parameters_present_flag
            w.bit(false)  // vcl_hrd_parameters_present_flag
            w.bit(false)  // pic_struct_present_flag
            w.bit(false)  // bitstream_restriction_flag
            w.trailingBits()
            return w.nalUnit(header: 0x67)
        }
    }

    @Test("skips scaling lists by their syntax, handles interlaced cropping and a 1001-based frame rate")
    func interlacedHighProfileWithScalingLists() throws {
        let sps = try H264SPS(nalUnit: Built().nalUnit())
        #expect(sps.profileIDC == 100)
        #expect(sps.levelIDC == 40)
        #expect(!sps.frameMBsOnly)
        #expect(sps.width == 1920)
        #expect(sps.height == 1080)  // 2 × 34 × 16 = 1088, crop unit 2 × 2 = 4 lines × 2
        let frameRate = try #require(sps.frameRate)
        #expect(abs(frameRate - 29.97) < 0.001)
    }

    @Test("4:4:4 High 10 reads twelve scaling list flags, bit depths, and crops in whole samples")
    func highProfile444() throws {
        var built = Built()
        built.profile = 244
        built.chromaFormat = 3
        built.bitDepthLumaMinus8 = 2
        built.frameMBsOnly = true
        built.heightInMapUnits = 45
        built.widthInMBs = 80
        built.crop = (1, 3, 0, 5)
        built.picOrderCntType = 0
        let sps = try H264SPS(nalUnit: built.nalUnit())
        #expect(sps.chromaFormatIDC == 3)
        #expect(sps.bitDepthLuma == 10)
        #expect(sps.bitDepthChroma == 10)
        #expect(sps.width == 1280 - 4)
        #expect(sps.height == 720 - 5)
    }

    @Test("pic_order_cnt_type 2 and no VUI timing leave the frame rate nil")
    func noTiming() throws {
        var built = Built()
        built.profile = 77
        built.picOrderCntType = 2
        built.frameMBsOnly = true
        built.heightInMapUnits = 23
        built.widthInMBs = 40
        built.crop = nil
        built.timing = nil
        let sps = try H264SPS(nalUnit: built.nalUnit())
        #expect(sps.profileIDC == 77)
        #expect(sps.width == 640)
        #expect(sps.height == 368)
        #expect(sps.frameRate == nil)
    }

    @Test("every truncation of a real SPS is handled: before the picture size ends it throws, never traps")
    func truncations() throws {
        let configuration = try AVCDecoderConfiguration(record: MediaFixtureFiles.bytes(MediaFixtureFiles.avcHigh720p))
        let nal = configuration.sequenceParameterSets[0]
        let full = try H264SPS(nalUnit: nal)
        for length in 0..<nal.count {
            let prefix = Array(nal.prefix(length))
            if length < 8 {
                #expect(throws: MediaFormatError.self) { try H264SPS(nalUnit: prefix) }
            } else if let parsed = try? H264SPS(nalUnit: prefix) {
                // Cut inside the VUI: the size is complete and the frame rate may be lost, never wrong.
                #expect(parsed.width == full.width)
                #expect(parsed.height == full.height)
                #expect(parsed.frameRate == nil || parsed.frameRate == full.frameRate)
            }
        }
    }

    @Test("rejects input that is not an SPS", arguments: [
        [],
        [0x68, 0xEB, 0xE3, 0xCB],  // a PPS
        [0xE7, 0x64, 0x00, 0x1F],  // forbidden_zero_bit set
        [0x67, 0x64, 0x00, 0x1F, 0x00, 0x00, 0x00, 0x00, 0x00],  // ue(v) longer than 32 bits
        [0x67, 0x64, 0x00, 0x1F, 0x88],  // chroma_format_idc 7 (ue 0001000)
        [0x67, 0x42, 0x00, 0x1E, 0xFF],  // ends before frame_mbs_only_flag
    ] as [[UInt8]])
    func rejectsGarbage(bytes: [UInt8]) {
        #expect(throws: MediaFormatError.self) { try H264SPS(nalUnit: bytes) }
    }

    @Test("never traps on random bytes behind an SPS header")
    func randomBytes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let count = Int.random(in: 0..<40, using: &generator)
            let bytes = [0x67] + (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? H264SPS(nalUnit: bytes)
        }
    }
}
