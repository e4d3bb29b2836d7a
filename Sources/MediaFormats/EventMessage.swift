import NIOCore

extension FMP4 {
    /// A version 1 `emsg` box (ISO/IEC 23009-1 §5.10.3.3, also CMAF §7.4.5) to write in front of a fragment: an event
    /// addressed by `schemeIDURI`/`value`, starting at the absolute `presentationTime` in `timescale` ticks and lasting
    /// `duration` (``unknownEventDuration`` when open), identified by `id` within the scheme, with an opaque `message`.
    ///
    /// The strings are written NUL-terminated, so they must not contain NUL themselves.
    public struct EventMessage: Sendable, Equatable {
        public var schemeIDURI: String
        public var value: String
        public var timescale: UInt32
        public var presentationTime: UInt64
        public var duration: UInt32
        public var id: UInt32
        public var message: [UInt8]

        public init(
            schemeIDURI: String, value: String, timescale: UInt32, presentationTime: UInt64, duration: UInt32, id: UInt32,
            message: [UInt8]
        ) {
            self.schemeIDURI = schemeIDURI
            self.value = value
            self.timescale = timescale
            self.presentationTime = presentationTime
            self.duration = duration
            self.id = id
            self.message = message
        }

        /// The byte size of the box.
        public var size: Int { 12 + 20 + schemeIDURI.utf8.count + value.utf8.count + 2 + message.count }
    }

    /// `event_duration` of an event whose end is not known yet.
    public static let unknownEventDuration: UInt32 = 0xFFFF_FFFF

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
        let event = EventMessage(
            schemeIDURI: schemeIDURI, value: value, timescale: timescale, presentationTime: presentationTime,
            duration: duration, id: id, message: message)
        var writer = ISOBoxWriter(capacity: event.size)
        writer.writeEventMessage(event)
        return writer.buffer
    }
}

extension ISOBoxWriter {
    /// Writes `event` as a version 1 `emsg` box (ISO/IEC 23009-1 §5.10.3.3): the version 1 fields come before the
    /// strings.
    public mutating func writeEventMessage(_ event: FMP4.EventMessage) {
        fullBox("emsg", version: 1, flags: 0) { emsg in
            emsg.write(event.timescale)
            emsg.write(event.presentationTime)
            emsg.write(event.duration)  // event_duration
            emsg.write(event.id)
            emsg.writeNullTerminatedString(event.schemeIDURI)
            emsg.writeNullTerminatedString(event.value)
            emsg.writeBytes(event.message)
        }
    }
}
