import NIOCore

extension FMP4 {
    /// `sample_flags` of a sync sample (ISO/IEC 14496-12 §8.8.3.1): `sample_depends_on` = 2 (depends on no other).
    public static let syncSampleFlags: UInt32 = 0x0200_0000
    /// `sample_flags` of a non-sync sample: `sample_depends_on` = 1 and `sample_is_non_sync_sample` set.
    public static let nonSyncSampleFlags: UInt32 = 0x0101_0000

    /// Bytes of `moof` before the first `traf`: its own header and the `mfhd` box.
    private static let movieFragmentPrefixSize = 8 + 16

    /// Writes one fragment: a `moof` (ISO/IEC 14496-12 §8.8.4) with `mfhd` and one `traf` per run, followed by one
    /// `mdat` holding every run's sample data in order.
    ///
    /// Each `traf` has a `tfhd` with `default-base-is-moof` (§8.8.7, so offsets count from the first byte of this
    /// `moof`, as CMAF requires), a version 1 `tfdt` with the run's base decode time (§8.8.12), and a version 1
    /// `trun` (§8.8.8) with a data offset and each sample's duration, size and flags, plus signed composition
    /// offsets when any sample has one.
    ///
    /// A `producerReferenceTime` and `eventMessages` are written in front of the `moof`, in that order (the order
    /// ISO/IEC 23000-19 gives a CMAF chunk's boxes: `prft`, `emsg`, `moof`, `mdat`), into the same buffer, so they
    /// cost no copy of the fragment.
    public static func fragment(
        sequenceNumber: UInt32, runs: [TrackRun], producerReferenceTime: ProducerReferenceTime? = nil,
        eventMessages: [EventMessage] = []
    ) -> ByteBuffer {
        var leadingSize = producerReferenceTime == nil ? 0 : ProducerReferenceTime.size
        for event in eventMessages {
            leadingSize += event.size
        }
        var dataSize = 0
        var moofSize = movieFragmentPrefixSize
        for run in runs {
            moofSize += trackFragmentSize(run)
            for sample in run.samples {
                dataSize += sample.data.readableBytes
            }
        }
        let mdatHeaderSize = 8 + dataSize > Int(UInt32.max) ? 16 : 8

        var writer = ISOBoxWriter(capacity: leadingSize + moofSize + mdatHeaderSize + dataSize)
        if let producerReferenceTime {
            writer.writeProducerReferenceTime(producerReferenceTime)
        }
        for event in eventMessages {
            writer.writeEventMessage(event)
        }
        assert(writer.buffer.readableBytes == leadingSize, "prft and emsg sizes computed ahead must match the bytes written")
        var dataOffset = moofSize + mdatHeaderSize
        writer.box("moof") { moof in
            moof.fullBox("mfhd", version: 0, flags: 0) { $0.write(sequenceNumber) }
            for run in runs {
                writeTrackFragment(&moof, run, dataOffset: dataOffset)
                for sample in run.samples {
                    dataOffset += sample.data.readableBytes
                }
            }
        }
        assert(writer.buffer.readableBytes == leadingSize + moofSize, "moof size computed ahead must match the bytes written")

        if mdatHeaderSize == 16 {
            // §4.2: size 1 means a 64-bit largesize follows the type.
            writer.write(UInt32(1))
            writer.writeFourCC("mdat")
            writer.write(UInt64(mdatHeaderSize + dataSize))
        } else {
            writer.write(UInt32(mdatHeaderSize + dataSize))
            writer.writeFourCC("mdat")
        }
        for run in runs {
            for sample in run.samples {
                writer.buffer.writeImmutableBuffer(sample.data)
            }
        }
        return writer.buffer
    }

    /// `trun` flags for a run: data-offset, per-sample duration, size and flags, and composition offsets if needed.
    private static func trackRunFlags(_ run: TrackRun) -> UInt32 {
        var flags: UInt32 = 0x000001 | 0x000100 | 0x000200 | 0x000400
        if run.samples.contains(where: { $0.compositionOffset != 0 }) {
            flags |= 0x000800
        }
        return flags
    }

    /// The byte size of the `traf` written for `run`, so data offsets are known before the `moof` is written.
    private static func trackFragmentSize(_ run: TrackRun) -> Int {
        let tfhd = 12 + 4
        let tfdt = 12 + 8
        let bytesPerSample = trackRunFlags(run) & 0x000800 != 0 ? 16 : 12
        let trun = 12 + 4 + 4 + bytesPerSample * run.samples.count
        return 8 + tfhd + tfdt + trun
    }

    private static func writeTrackFragment(_ moof: inout ISOBoxWriter, _ run: TrackRun, dataOffset: Int) {
        moof.box("traf") { traf in
            traf.fullBox("tfhd", version: 0, flags: 0x020000) { $0.write(run.trackID) }  // default-base-is-moof
            traf.fullBox("tfdt", version: 1, flags: 0) { $0.write(run.baseDecodeTime) }
            let flags = trackRunFlags(run)
            traf.fullBox("trun", version: 1, flags: flags) { trun in
                trun.write(UInt32(run.samples.count))
                trun.write(Int32(clamping: dataOffset))
                for sample in run.samples {
                    trun.write(sample.duration)
                    trun.write(UInt32(clamping: sample.data.readableBytes))
                    trun.write(sample.isSync ? syncSampleFlags : nonSyncSampleFlags)
                    if flags & 0x000800 != 0 {
                        trun.write(sample.compositionOffset)
                    }
                }
            }
        }
    }
}
