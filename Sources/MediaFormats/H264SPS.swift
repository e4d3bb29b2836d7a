/// The fields of an H.264 sequence parameter set that a packager needs: profile, level, the displayed picture size
/// and, when the encoder signalled it, the frame rate.
///
/// Parses `seq_parameter_set_data()` of ITU-T H.264 §7.3.2.1.1 from a NAL unit (with its one-byte header, type 7),
/// after removing emulation prevention bytes (§7.4.1). High-profile fields are read (chroma format, bit depths) and
/// scaling lists are skipped by their syntax (§7.3.2.1.1.1). `width` and `height` are the cropped, displayed size
/// (§7.4.2.1.1, frame cropping with `CropUnitX`/`CropUnitY`), so a 1920×1088 coded picture with 8 lines cropped
/// reports 1080. `frameRate` comes from the VUI timing information (Annex E.1.1, `time_scale / (2 ·
/// num_units_in_tick)`); the VUI is read best-effort, so a damaged VUI leaves `frameRate` nil rather than
/// rejecting an SPS whose picture size was read in full.
public struct H264SPS: Sendable, Equatable {
    public var profileIDC: UInt8
    /// The six `constraint_set` flags and two reserved bits, as the second byte of the SPS.
    public var constraintFlags: UInt8
    public var levelIDC: UInt8
    /// `chroma_format_idc`: 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4 (1 when the profile does not signal it).
    public var chromaFormatIDC: Int
    public var bitDepthLuma: Int
    public var bitDepthChroma: Int
    /// `frame_mbs_only_flag`: false when the stream may carry interlaced field pictures.
    public var frameMBsOnly: Bool
    /// Displayed width in luma samples, after cropping.
    public var width: Int
    /// Displayed height in luma samples, after cropping.
    public var height: Int
    /// Frames per second from VUI `timing_info` when present.
    public var frameRate: Double?

    /// Profiles whose SPS carries `chroma_format_idc` and the fields after it (§7.3.2.1.1).
    private static let profilesWithChromaInfo: Set<UInt8> = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]

    /// Parses an SPS NAL unit including its one-byte NAL header.
    public init(nalUnit: [UInt8]) throws(MediaFormatError) {
        guard let header = nalUnit.first else { throw .truncated("H.264 SPS") }
        guard header & 0x80 == 0, header & 0x1F == 7 else {
            throw .invalid("H.264 SPS: NAL unit type \(header & 0x1F) is not 7")
        }
        var bits = BitReader(bytes: BitReader.removingEmulationPrevention(nalUnit.dropFirst()), context: "H.264 SPS")

        profileIDC = UInt8(try bits.readBits(8))
        constraintFlags = UInt8(try bits.readBits(8))
        levelIDC = UInt8(try bits.readBits(8))
        let spsID = try bits.readUnsignedExpGolomb()
        guard spsID <= 31 else { throw .invalid("H.264 SPS: seq_parameter_set_id \(spsID)") }

        chromaFormatIDC = 1
        bitDepthLuma = 8
        bitDepthChroma = 8
        var separateColourPlane = false
        if Self.profilesWithChromaInfo.contains(profileIDC) {
            let chroma = try bits.readUnsignedExpGolomb()
            guard chroma <= 3 else { throw .invalid("H.264 SPS: chroma_format_idc \(chroma)") }
            chromaFormatIDC = Int(chroma)
            if chroma == 3 {
                separateColourPlane = try bits.readFlag()
            }
            let lumaDepth = try bits.readUnsignedExpGolomb()
            let chromaDepth = try bits.readUnsignedExpGolomb()
            guard lumaDepth <= 6, chromaDepth <= 6 else { throw .invalid("H.264 SPS: bit depth") }
            bitDepthLuma = Int(lumaDepth) + 8
            bitDepthChroma = Int(chromaDepth) + 8
            _ = try bits.readFlag()  // qpprime_y_zero_transform_bypass_flag
            if try bits.readFlag() {  // seq_scaling_matrix_present_flag
                let listCount = chroma == 3 ? 12 : 8
                for index in 0..<listCount {
                    if try bits.readFlag() {  // seq_scaling_list_present_flag[i]
                        try Self.skipScalingList(&bits, size: index < 6 ? 16 : 64)
                    }
                }
            }
        }

        let log2MaxFrameNumMinus4 = try bits.readUnsignedExpGolomb()
        guard log2MaxFrameNumMinus4 <= 12 else { throw .invalid("H.264 SPS: log2_max_frame_num_minus4") }
        let picOrderCntType = try bits.readUnsignedExpGolomb()
        switch picOrderCntType {
        case 0:
            let log2MaxPOCLsbMinus4 = try bits.readUnsignedExpGolomb()
            guard log2MaxPOCLsbMinus4 <= 12 else { throw .invalid("H.264 SPS: log2_max_pic_order_cnt_lsb_minus4") }
        case 1:
            _ = try bits.readFlag()  // delta_pic_order_always_zero_flag
            _ = try bits.readSignedExpGolomb()  // offset_for_non_ref_pic
            _ = try bits.readSignedExpGolomb()  // offset_for_top_to_bottom_field
            let cycleLength = try bits.readUnsignedExpGolomb()
            guard cycleLength <= 255 else { throw .invalid("H.264 SPS: num_ref_frames_in_pic_order_cnt_cycle") }
            for _ in 0..<cycleLength {
                _ = try bits.readSignedExpGolomb()  // offset_for_ref_frame[i]
            }
        case 2:
            break
        default:
            throw .invalid("H.264 SPS: pic_order_cnt_type \(picOrderCntType)")
        }
        _ = try bits.readUnsignedExpGolomb()  // max_num_ref_frames
        _ = try bits.readFlag()  // gaps_in_frame_num_value_allowed_flag
        let widthInMBs = Int(try bits.readUnsignedExpGolomb()) + 1
        let heightInMapUnits = Int(try bits.readUnsignedExpGolomb()) + 1
        frameMBsOnly = try bits.readFlag()
        if !frameMBsOnly {
            _ = try bits.readFlag()  // mb_adaptive_frame_field_flag
        }
        _ = try bits.readFlag()  // direct_8x8_inference_flag

        var cropLeft = 0, cropRight = 0, cropTop = 0, cropBottom = 0
        if try bits.readFlag() {  // frame_cropping_flag
            cropLeft = Int(try bits.readUnsignedExpGolomb())
            cropRight = Int(try bits.readUnsignedExpGolomb())
            cropTop = Int(try bits.readUnsignedExpGolomb())
            cropBottom = Int(try bits.readUnsignedExpGolomb())
        }

        // §7.4.2.1.1: crop offsets count in chroma sample units (and in field pairs for interlaced streams).
        let chromaArrayType = separateColourPlane ? 0 : chromaFormatIDC
        let subWidthC = chromaArrayType == 3 ? 1 : 2
        let subHeightC = chromaArrayType == 1 ? 2 : 1
        let fieldFactor = frameMBsOnly ? 1 : 2
        let cropUnitX = chromaArrayType == 0 ? 1 : subWidthC
        let cropUnitY = (chromaArrayType == 0 ? 1 : subHeightC) * fieldFactor
        width = widthInMBs * 16 - cropUnitX * (cropLeft + cropRight)
        height = fieldFactor * heightInMapUnits * 16 - cropUnitY * (cropTop + cropBottom)
        guard width > 0, height > 0 else {
            throw .invalid("H.264 SPS: picture size \(width)x\(height) after cropping")
        }

        frameRate = nil
        if (try? bits.readFlag()) == true {  // vui_parameters_present_flag
            frameRate = try? Self.frameRate(fromVUI: &bits)
        }
    }

    /// Skips `scaling_list()` (§7.3.2.1.1.1): delta-coded entries until the list ends or `nextScale` becomes 0.
    private static func skipScalingList(_ bits: inout BitReader, size: Int) throws(MediaFormatError) {
        var lastScale: Int32 = 8
        var nextScale: Int32 = 8
        for _ in 0..<size {
            if nextScale != 0 {
                let delta = try bits.readSignedExpGolomb()
                guard delta >= -128, delta <= 127 else { throw .invalid("H.264 SPS: delta_scale \(delta)") }
                nextScale = (lastScale + delta + 256) % 256
            }
            lastScale = nextScale == 0 ? lastScale : nextScale
        }
    }

    /// Reads `vui_parameters()` (Annex E.1.1) up to `timing_info` and returns the frame rate it signals, if any.
    private static func frameRate(fromVUI bits: inout BitReader) throws(MediaFormatError) -> Double? {
        if try bits.readFlag() {  // aspect_ratio_info_present_flag
            let aspectRatioIDC = try bits.readBits(8)
            if aspectRatioIDC == 255 {  // Extended_SAR
                try bits.skipBits(32)  // sar_width, sar_height
            }
        }
        if try bits.readFlag() {  // overscan_info_present_flag
            try bits.skipBits(1)  // overscan_appropriate_flag
        }
        if try bits.readFlag() {  // video_signal_type_present_flag
            try bits.skipBits(4)  // video_format, video_full_range_flag
            if try bits.readFlag() {  // colour_description_present_flag
                try bits.skipBits(24)  // colour_primaries, transfer_characteristics, matrix_coefficients
            }
        }
        if try bits.readFlag() {  // chroma_loc_info_present_flag
            _ = try bits.readUnsignedExpGolomb()
            _ = try bits.readUnsignedExpGolomb()
        }
        guard try bits.readFlag() else { return nil }  // timing_info_present_flag
        let numUnitsInTick = try bits.readBits(32)
        let timeScale = try bits.readBits(32)
        guard numUnitsInTick > 0, timeScale > 0 else { return nil }
        // One frame is two field ticks (E.2.1: `time_scale / (2 · num_units_in_tick)` for frame-coded streams).
        return Double(timeScale) / (2 * Double(numUnitsInTick))
    }
}
