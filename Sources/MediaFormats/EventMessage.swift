import NIOCore

extension FMP4 {
    /// Writes a version 1 `emsg` box (ISO/IEC 23009-1 §5.10.3.3, also CMAF §7.4.5): an event addressed by
    /// `schemeIDURI`/`value`, starting at the absolute `presentationTime` in `timescale` ticks and lasting `duration`
    /// (0xFFFFFFFF for unknown), identified by `id` within the scheme, with an opaque `message` payload.
    ///
    /// Version 1 carries an absolute presentation time (version 0 a delta from the segment), so the box means the
    /// same wherever it is placed between fragments; it goes before the `moof` it applies to.
    public static func eventMessage(
        schemeIDURI: String, value: String, timescale: UInt32, presentationTime: UInt64, duration: UInt32, id: UInt32,
        message: [UInt8]
    ) -> ByteBuffer {
        var writer = ISOBoxWriter(capacity: 12 + 20 + schemeIDURI.utf8.count + value.utf8.count + 2 + message.count)
        writer.fullBox("emsg", version: 1, flags: 0) { emsg in
            emsg.write(timescale)
            emsg.write(presentationTime)
            emsg.write(duration)  // event_duration
            emsg.write(id)
            emsg.writeNullTerminatedString(schemeIDURI)
            emsg.writeNullTerminatedString(value)
            emsg.writeBytes(message)
        }
        return writer.buffer
    }
}
