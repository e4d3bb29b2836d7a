import NIOCore

extension FMP4 {
    /// The brands of the `ftyp` box: ISO BMFF 2012 (`iso6`) with CMAF (`cmfc`), and the older brands players look for.
    static let compatibleBrands = ["iso6", "cmfc", "isom", "mp41"]

    /// Writes a CMAF init segment for `tracks`: `ftyp` then `moov` (ISO/IEC 14496-12 §8.2) with an empty sample table
    /// per track (all samples are in fragments) and an `mvex` with one `trex` per track (§8.8), as MSE in Chrome and
    /// Safari, native HLS and ffmpeg read it.
    ///
    /// Video tracks get an `avc1` sample entry carrying the `avcC` record verbatim (ISO/IEC 14496-15 §5.4.2); audio
    /// tracks an `mp4a` entry with an `esds` whose `DecSpecificInfo` is the AudioSpecificConfig (ISO/IEC 14496-14
    /// §5.6, ISO/IEC 14496-1 §7.2.6.5).
    public static func initSegment(tracks: [Track]) -> ByteBuffer {
        var writer = ISOBoxWriter(capacity: 1024)
        writer.box("ftyp") { ftyp in
            ftyp.writeFourCC("iso6")  // major_brand
            ftyp.write(UInt32(0))  // minor_version
            for brand in compatibleBrands {
                ftyp.writeFourCC(brand)
            }
        }
        writer.box("moov") { moov in
            writeMovieHeader(&moov, nextTrackID: (tracks.map(\.id).max() ?? 0) &+ 1)
            for track in tracks {
                writeTrack(&moov, track)
            }
            moov.box("mvex") { mvex in
                for track in tracks {
                    // §8.8.3: defaults for fragments; every fragment we write sets duration, size and flags per sample.
                    mvex.fullBox("trex", version: 0, flags: 0) { trex in
                        trex.write(track.id)
                        trex.write(UInt32(1))  // default_sample_description_index
                        trex.write(UInt32(0))  // default_sample_duration
                        trex.write(UInt32(0))  // default_sample_size
                        trex.write(UInt32(0))  // default_sample_flags
                    }
                }
            }
        }
        return writer.buffer
    }

    /// `mvhd` (§8.2.2), version 0, duration 0 (unknown: the movie is fragmented).
    private static func writeMovieHeader(_ moov: inout ISOBoxWriter, nextTrackID: UInt32) {
        moov.fullBox("mvhd", version: 0, flags: 0) { mvhd in
            mvhd.write(UInt32(0))  // creation_time
            mvhd.write(UInt32(0))  // modification_time
            mvhd.write(UInt32(1000))  // timescale
            mvhd.write(UInt32(0))  // duration
            mvhd.write(UInt32(0x0001_0000))  // rate 1.0
            mvhd.write(UInt16(0x0100))  // volume 1.0
            mvhd.writeZeros(2 + 8)  // reserved
            mvhd.writeUnityMatrix()
            mvhd.writeZeros(6 * 4)  // pre_defined
            mvhd.write(nextTrackID)  // next_track_ID
        }
    }

    private static func writeTrack(_ moov: inout ISOBoxWriter, _ track: Track) {
        let isVideo: Bool
        let width: Int
        let height: Int
        switch track.kind {
        case .video(_, let videoWidth, let videoHeight):
            isVideo = true
            width = videoWidth
            height = videoHeight
        case .audio:
            isVideo = false
            width = 0
            height = 0
        }
        moov.box("trak") { trak in
            // §8.3.2: flags track_enabled | track_in_movie.
            trak.fullBox("tkhd", version: 0, flags: 0x000003) { tkhd in
                tkhd.write(UInt32(0))  // creation_time
                tkhd.write(UInt32(0))  // modification_time
                tkhd.write(track.id)
                tkhd.write(UInt32(0))  // reserved
                tkhd.write(UInt32(0))  // duration
                tkhd.writeZeros(8)  // reserved
                tkhd.write(Int16(0))  // layer
                tkhd.write(Int16(0))  // alternate_group
                tkhd.write(UInt16(isVideo ? 0 : 0x0100))  // volume
                tkhd.write(UInt16(0))  // reserved
                tkhd.writeUnityMatrix()
                tkhd.write(fixed16x16(width))
                tkhd.write(fixed16x16(height))
            }
            trak.box("mdia") { mdia in
                mdia.fullBox("mdhd", version: 0, flags: 0) { mdhd in
                    mdhd.write(UInt32(0))  // creation_time
                    mdhd.write(UInt32(0))  // modification_time
                    mdhd.write(track.timescale)
                    mdhd.write(UInt32(0))  // duration
                    mdhd.write(UInt16(0x55C4))  // pad + ISO 639-2/T 'und', packed 5 bits a letter
                    mdhd.write(UInt16(0))  // pre_defined
                }
                mdia.fullBox("hdlr", version: 0, flags: 0) { hdlr in
                    hdlr.write(UInt32(0))  // pre_defined
                    hdlr.writeFourCC(isVideo ? "vide" : "soun")
                    hdlr.writeZeros(12)  // reserved
                    hdlr.writeNullTerminatedString(isVideo ? "VideoHandler" : "SoundHandler")
                }
                mdia.box("minf") { minf in
                    if isVideo {
                        minf.fullBox("vmhd", version: 0, flags: 1) { vmhd in
                            vmhd.writeZeros(2 + 6)  // graphicsmode, opcolor
                        }
                    } else {
                        minf.fullBox("smhd", version: 0, flags: 0) { smhd in
                            smhd.writeZeros(2 + 2)  // balance, reserved
                        }
                    }
                    minf.box("dinf") { dinf in
                        dinf.fullBox("dref", version: 0, flags: 0) { dref in
                            dref.write(UInt32(1))  // entry_count
                            dref.fullBox("url ", version: 0, flags: 1) { _ in }  // media data in this file
                        }
                    }
                    writeSampleTable(&minf, track.kind)
                }
            }
        }
    }

    /// `stbl` (§8.5) with the sample description and empty time-to-sample, sample-to-chunk, size and offset tables.
    private static func writeSampleTable(_ minf: inout ISOBoxWriter, _ kind: TrackKind) {
        minf.box("stbl") { stbl in
            stbl.fullBox("stsd", version: 0, flags: 0) { stsd in
                stsd.write(UInt32(1))  // entry_count
                switch kind {
                case .video(let configuration, let width, let height):
                    writeAVCSampleEntry(&stsd, configuration, width: width, height: height)
                case .audio(let config):
                    writeAACSampleEntry(&stsd, config)
                }
            }
            stbl.fullBox("stts", version: 0, flags: 0) { $0.write(UInt32(0)) }
            stbl.fullBox("stsc", version: 0, flags: 0) { $0.write(UInt32(0)) }
            stbl.fullBox("stsz", version: 0, flags: 0) { stsz in
                stsz.write(UInt32(0))  // sample_size
                stsz.write(UInt32(0))  // sample_count
            }
            stbl.fullBox("stco", version: 0, flags: 0) { $0.write(UInt32(0)) }
        }
    }

    /// `avc1` VisualSampleEntry (ISO/IEC 14496-12 §12.1.3) with its `avcC` (ISO/IEC 14496-15 §5.4.2.1).
    private static func writeAVCSampleEntry(
        _ stsd: inout ISOBoxWriter, _ configuration: AVCDecoderConfiguration, width: Int, height: Int
    ) {
        stsd.box("avc1") { entry in
            entry.writeZeros(6)  // reserved
            entry.write(UInt16(1))  // data_reference_index
            entry.writeZeros(2 + 2 + 12)  // pre_defined, reserved, pre_defined
            entry.write(UInt16(clamping: width))
            entry.write(UInt16(clamping: height))
            entry.write(UInt32(0x0048_0000))  // horizresolution 72 dpi
            entry.write(UInt32(0x0048_0000))  // vertresolution 72 dpi
            entry.write(UInt32(0))  // reserved
            entry.write(UInt16(1))  // frame_count
            entry.writeZeros(32)  // compressorname: empty Pascal string
            entry.write(UInt16(0x0018))  // depth
            entry.write(Int16(-1))  // pre_defined
            entry.box("avcC") { $0.writeBytes(configuration.record) }
        }
    }

    /// `mp4a` AudioSampleEntry (ISO/IEC 14496-12 §12.2.3, ISO/IEC 14496-14 §5.6) with its `esds`.
    private static func writeAACSampleEntry(_ stsd: inout ISOBoxWriter, _ config: AudioSpecificConfig) {
        stsd.box("mp4a") { entry in
            entry.writeZeros(6)  // reserved
            entry.write(UInt16(1))  // data_reference_index
            entry.writeZeros(8)  // reserved
            entry.write(UInt16(channelCount(config.channelConfiguration)))
            entry.write(UInt16(16))  // samplesize
            entry.writeZeros(2 + 2)  // pre_defined, reserved
            // samplerate is 16.16; a rate that does not fit is left 0 and taken from the AudioSpecificConfig.
            entry.write(config.samplingFrequency <= 0xFFFF ? UInt32(config.samplingFrequency) << 16 : 0)
            entry.fullBox("esds", version: 0, flags: 0) { esds in
                writeElementaryStreamDescriptor(&esds.buffer, config.bytes)
            }
        }
    }

    /// ES_Descriptor (ISO/IEC 14496-1 §7.2.6.5) holding a DecoderConfigDescriptor (§7.2.6.6; objectTypeIndication
    /// 0x40 = MPEG-4 Audio, streamType 5 = audio) whose DecoderSpecificInfo is the AudioSpecificConfig, and the
    /// SLConfigDescriptor with predefined 2 that MP4 files require (ISO/IEC 14496-14 §3.1.2).
    private static func writeElementaryStreamDescriptor(_ buffer: inout ByteBuffer, _ audioSpecificConfig: [UInt8]) {
        var decoderSpecificInfo = ByteBuffer()
        writeDescriptor(&decoderSpecificInfo, tag: 0x05, payload: ByteBuffer(bytes: audioSpecificConfig))

        var decoderConfig = ByteBuffer()
        decoderConfig.writeInteger(UInt8(0x40))  // objectTypeIndication: Audio ISO/IEC 14496-3
        decoderConfig.writeInteger(UInt8(0x05 << 2 | 0x01))  // streamType audio, upStream 0, reserved 1
        decoderConfig.writeRepeatingByte(0, count: 3)  // bufferSizeDB
        decoderConfig.writeInteger(UInt32(0))  // maxBitrate
        decoderConfig.writeInteger(UInt32(0))  // avgBitrate (0: variable)
        decoderConfig.writeImmutableBuffer(decoderSpecificInfo)

        var esDescriptor = ByteBuffer()
        esDescriptor.writeInteger(UInt16(0))  // ES_ID (0 in MP4 files, §3.1.2 of 14496-14)
        esDescriptor.writeInteger(UInt8(0))  // no streamDependence, URL, OCRstream; streamPriority 0
        writeDescriptor(&esDescriptor, tag: 0x04, payload: decoderConfig)
        writeDescriptor(&esDescriptor, tag: 0x06, payload: ByteBuffer(bytes: [0x02]))  // SLConfigDescriptor predefined 2

        writeDescriptor(&buffer, tag: 0x03, payload: esDescriptor)
    }

    /// A descriptor: tag byte, size in the expandable 7-bits-a-byte form (ISO/IEC 14496-1 §8.3.3), payload.
    private static func writeDescriptor(_ buffer: inout ByteBuffer, tag: UInt8, payload: ByteBuffer) {
        buffer.writeInteger(tag)
        let size = payload.readableBytes
        var shift = 21
        while shift > 0 && size >> shift == 0 {
            shift -= 7
        }
        while shift > 0 {
            buffer.writeInteger(UInt8(0x80 | ((size >> shift) & 0x7F)))
            shift -= 7
        }
        buffer.writeInteger(UInt8(size & 0x7F))
        buffer.writeImmutableBuffer(payload)
    }

    /// Output channels of an AAC `channelConfiguration` (ISO/IEC 14496-3 Table 1.19), 2 when a PCE decides.
    private static func channelCount(_ channelConfiguration: Int) -> Int {
        switch channelConfiguration {
        case 1...6: channelConfiguration
        case 7: 8
        case 11: 7
        case 12, 14: 8
        case 13: 24
        default: 2
        }
    }

    /// A pixel size as the unsigned 16.16 fixed point of `tkhd` width/height (§8.3.2.3).
    private static func fixed16x16(_ value: Int) -> UInt32 {
        UInt32(clamping: max(0, min(value, 0xFFFF))) << 16
    }
}
