import NIOCore

/// One box read by ``ISOBMFFReader``: its four-character type, where it lies in the input, its payload (the bytes
/// after the header, including a full box's version and flags) and, for container boxes, its children.
///
/// The `decode…` methods read the few boxes this project checks (ISO/IEC 14496-12 and ISO/IEC 23009-1 layouts);
/// each throws ``MediaFormatError`` when the box is of another type or its payload is short.
public struct ISOBox: Sendable {
    public var type: String
    /// Offset of the box's first byte from the start of the buffer given to ``ISOBMFFReader/boxes(in:)``.
    public var offset: Int
    /// Size of the whole box, header included.
    public var size: Int
    /// Size of the header: 8, 16 with a largesize, plus 16 for a `uuid` box's extended type.
    public var headerSize: Int
    public var payload: ByteBuffer
    public var children: [ISOBox]

    public init(type: String, offset: Int, size: Int, headerSize: Int, payload: ByteBuffer, children: [ISOBox]) {
        self.type = type
        self.offset = offset
        self.size = size
        self.headerSize = headerSize
        self.payload = payload
        self.children = children
    }

    /// Offset of the first payload byte from the start of the buffer given to the reader.
    public var payloadOffset: Int { offset + headerSize }

    /// The first child of `type`.
    public func child(_ type: String) -> ISOBox? {
        children.first { $0.type == type }
    }

    /// All children of `type`, in order.
    public func children(_ type: String) -> [ISOBox] {
        children.filter { $0.type == type }
    }

    /// The first descendant on `path` below this box (`box.descendant("mdia", "mdhd")`).
    public func descendant(_ path: String...) -> ISOBox? {
        ISOBMFFReader.first(path, in: children)
    }

    // MARK: - Decoded boxes

    /// `trun` (§8.8.8): sample count, optional data offset and first-sample flags, and the per-sample fields
    /// its flags announce (`samples` is empty when the flags announce none).
    public struct TrackRun: Sendable, Equatable {
        public struct Entry: Sendable, Equatable {
            public var duration: UInt32?
            public var size: UInt32?
            public var flags: UInt32?
            /// Read as signed for version 1, unsigned (converted) for version 0.
            public var compositionOffset: Int64?

            public init(duration: UInt32? = nil, size: UInt32? = nil, flags: UInt32? = nil, compositionOffset: Int64? = nil) {
                self.duration = duration
                self.size = size
                self.flags = flags
                self.compositionOffset = compositionOffset
            }
        }
        public var version: UInt8
        public var flags: UInt32
        public var sampleCount: UInt32
        public var dataOffset: Int32?
        public var firstSampleFlags: UInt32?
        public var samples: [Entry]

        public init(
            version: UInt8, flags: UInt32, sampleCount: UInt32, dataOffset: Int32?, firstSampleFlags: UInt32?,
            samples: [Entry]
        ) {
            self.version = version
            self.flags = flags
            self.sampleCount = sampleCount
            self.dataOffset = dataOffset
            self.firstSampleFlags = firstSampleFlags
            self.samples = samples
        }
    }

    /// `tkhd` (§8.3.2) fields of interest.
    public struct TrackHeader: Sendable, Equatable {
        public var trackID: UInt32
        /// Width and height in 16.16 fixed point.
        public var width: UInt32
        public var height: UInt32

        public init(trackID: UInt32, width: UInt32, height: UInt32) {
            self.trackID = trackID
            self.width = width
            self.height = height
        }
    }

    /// `tfhd` (§8.8.7) fields of interest.
    public struct TrackFragmentHeader: Sendable, Equatable {
        public var flags: UInt32
        public var trackID: UInt32

        public init(flags: UInt32, trackID: UInt32) {
            self.flags = flags
            self.trackID = trackID
        }
    }

    /// `emsg` (ISO/IEC 23009-1 §5.10.3.3), versions 0 and 1. For version 0, `presentationTime` holds the
    /// `presentation_time_delta`.
    public struct EventMessage: Sendable, Equatable {
        public var version: UInt8
        public var schemeIDURI: String
        public var value: String
        public var timescale: UInt32
        public var presentationTime: UInt64
        public var eventDuration: UInt32
        public var id: UInt32
        public var messageData: [UInt8]

        public init(
            version: UInt8, schemeIDURI: String, value: String, timescale: UInt32, presentationTime: UInt64,
            eventDuration: UInt32, id: UInt32, messageData: [UInt8]
        ) {
            self.version = version
            self.schemeIDURI = schemeIDURI
            self.value = value
            self.timescale = timescale
            self.presentationTime = presentationTime
            self.eventDuration = eventDuration
            self.id = id
            self.messageData = messageData
        }
    }

    /// `prft` (§8.16.5), versions 0 and 1.
    public struct ProducerReferenceTime: Sendable, Equatable {
        public var version: UInt8
        public var flags: UInt32
        public var referenceTrackID: UInt32
        public var ntpTimestamp: UInt64
        public var mediaTime: UInt64

        public init(version: UInt8, flags: UInt32, referenceTrackID: UInt32, ntpTimestamp: UInt64, mediaTime: UInt64) {
            self.version = version
            self.flags = flags
            self.referenceTrackID = referenceTrackID
            self.ntpTimestamp = ntpTimestamp
            self.mediaTime = mediaTime
        }
    }

    /// The version and flags of a full box (§4.2).
    public func fullBoxHeader() throws(MediaFormatError) -> (version: UInt8, flags: UInt32) {
        var reader = payload
        let word = try Self.read(UInt32.self, from: &reader, type)
        return (UInt8(word >> 24), word & 0x00FF_FFFF)
    }

    /// `mfhd` (§8.8.5) `sequence_number`.
    public func decodeMovieFragmentSequenceNumber() throws(MediaFormatError) -> UInt32 {
        var reader = try fullBoxPayload(expecting: "mfhd").reader
        return try Self.read(UInt32.self, from: &reader, type)
    }

    /// `tfdt` (§8.8.12) `baseMediaDecodeTime`, 32-bit in version 0 and 64-bit in version 1.
    public func decodeBaseMediaDecodeTime() throws(MediaFormatError) -> UInt64 {
        var (version, _, reader) = try fullBoxPayload(expecting: "tfdt")
        return version == 1
            ? try Self.read(UInt64.self, from: &reader, type) : UInt64(try Self.read(UInt32.self, from: &reader, type))
    }

    public func decodeTrackFragmentHeader() throws(MediaFormatError) -> TrackFragmentHeader {
        var (_, flags, reader) = try fullBoxPayload(expecting: "tfhd")
        return TrackFragmentHeader(flags: flags, trackID: try Self.read(UInt32.self, from: &reader, type))
    }

    public func decodeTrackRun() throws(MediaFormatError) -> TrackRun {
        var (version, flags, reader) = try fullBoxPayload(expecting: "trun")
        let count = try Self.read(UInt32.self, from: &reader, type)
        let dataOffset = flags & 0x000001 != 0 ? try Self.read(Int32.self, from: &reader, type) : nil
        let firstSampleFlags = flags & 0x000004 != 0 ? try Self.read(UInt32.self, from: &reader, type) : nil
        let bytesPerSample = [0x000100, 0x000200, 0x000400, 0x000800].filter { flags & UInt32($0) != 0 }.count * 4
        guard Int(count) * bytesPerSample <= reader.readableBytes else { throw .truncated("ISO BMFF 'trun' samples") }
        var samples: [TrackRun.Entry] = []
        // Without per-sample fields there is nothing to list (and no bound on a hostile count), so `samples` stays empty.
        let listed = bytesPerSample == 0 ? 0 : Int(count)
        samples.reserveCapacity(listed)
        for _ in 0..<listed {
            var entry = TrackRun.Entry()
            if flags & 0x000100 != 0 { entry.duration = try Self.read(UInt32.self, from: &reader, type) }
            if flags & 0x000200 != 0 { entry.size = try Self.read(UInt32.self, from: &reader, type) }
            if flags & 0x000400 != 0 { entry.flags = try Self.read(UInt32.self, from: &reader, type) }
            if flags & 0x000800 != 0 {
                let raw = try Self.read(UInt32.self, from: &reader, type)
                entry.compositionOffset = version == 0 ? Int64(raw) : Int64(Int32(bitPattern: raw))
            }
            samples.append(entry)
        }
        return TrackRun(
            version: version, flags: flags, sampleCount: count, dataOffset: dataOffset,
            firstSampleFlags: firstSampleFlags, samples: samples)
    }

    public func decodeTrackHeader() throws(MediaFormatError) -> TrackHeader {
        var (version, _, reader) = try fullBoxPayload(expecting: "tkhd")
        try Self.skip(version == 1 ? 16 : 8, in: &reader, type)  // creation_time, modification_time
        let trackID = try Self.read(UInt32.self, from: &reader, type)
        try Self.skip(4 + (version == 1 ? 8 : 4) + 8 + 8 + 36, in: &reader, type)
        let width = try Self.read(UInt32.self, from: &reader, type)
        let height = try Self.read(UInt32.self, from: &reader, type)
        return TrackHeader(trackID: trackID, width: width, height: height)
    }

    /// `mdhd` (§8.4.2) `timescale`.
    public func decodeMediaTimescale() throws(MediaFormatError) -> UInt32 {
        var (version, _, reader) = try fullBoxPayload(expecting: "mdhd")
        try Self.skip(version == 1 ? 16 : 8, in: &reader, type)
        return try Self.read(UInt32.self, from: &reader, type)
    }

    /// `hdlr` (§8.4.3) `handler_type`.
    public func decodeHandlerType() throws(MediaFormatError) -> String {
        var (_, _, reader) = try fullBoxPayload(expecting: "hdlr")
        try Self.skip(4, in: &reader, type)
        guard let bytes = reader.readBytes(length: 4) else { throw .truncated("ISO BMFF 'hdlr'") }
        return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }

    public func decodeEventMessage() throws(MediaFormatError) -> EventMessage {
        var (version, _, reader) = try fullBoxPayload(expecting: "emsg")
        var message = EventMessage(
            version: version, schemeIDURI: "", value: "", timescale: 0, presentationTime: 0, eventDuration: 0, id: 0,
            messageData: [])
        switch version {
        case 0:
            message.schemeIDURI = try Self.readNullTerminatedString(&reader, type)
            message.value = try Self.readNullTerminatedString(&reader, type)
            message.timescale = try Self.read(UInt32.self, from: &reader, type)
            message.presentationTime = UInt64(try Self.read(UInt32.self, from: &reader, type))
            message.eventDuration = try Self.read(UInt32.self, from: &reader, type)
            message.id = try Self.read(UInt32.self, from: &reader, type)
        case 1:
            message.timescale = try Self.read(UInt32.self, from: &reader, type)
            message.presentationTime = try Self.read(UInt64.self, from: &reader, type)
            message.eventDuration = try Self.read(UInt32.self, from: &reader, type)
            message.id = try Self.read(UInt32.self, from: &reader, type)
            message.schemeIDURI = try Self.readNullTerminatedString(&reader, type)
            message.value = try Self.readNullTerminatedString(&reader, type)
        default:
            throw .invalid("ISO BMFF 'emsg' version \(version)")
        }
        message.messageData = reader.readBytes(length: reader.readableBytes) ?? []
        return message
    }

    public func decodeProducerReferenceTime() throws(MediaFormatError) -> ProducerReferenceTime {
        var (version, flags, reader) = try fullBoxPayload(expecting: "prft")
        let trackID = try Self.read(UInt32.self, from: &reader, type)
        let ntp = try Self.read(UInt64.self, from: &reader, type)
        let mediaTime =
            version == 0 ? UInt64(try Self.read(UInt32.self, from: &reader, type)) : try Self.read(UInt64.self, from: &reader, type)
        return ProducerReferenceTime(
            version: version, flags: flags, referenceTrackID: trackID, ntpTimestamp: ntp, mediaTime: mediaTime)
    }

    // MARK: - Reading helpers

    private func fullBoxPayload(expecting expected: String) throws(MediaFormatError) -> (
        version: UInt8, flags: UInt32, reader: ByteBuffer
    ) {
        guard type == expected else { throw .invalid("ISO BMFF: expected '\(expected)', found '\(type)'") }
        var reader = payload
        let word = try Self.read(UInt32.self, from: &reader, type)
        return (UInt8(word >> 24), word & 0x00FF_FFFF, reader)
    }

    private static func read<Integer: FixedWidthInteger>(
        _: Integer.Type, from reader: inout ByteBuffer, _ type: String
    ) throws(MediaFormatError) -> Integer {
        guard let value = reader.readInteger(as: Integer.self) else { throw .truncated("ISO BMFF '\(type)'") }
        return value
    }

    private static func skip(_ count: Int, in reader: inout ByteBuffer, _ type: String) throws(MediaFormatError) {
        guard reader.readableBytes >= count else { throw .truncated("ISO BMFF '\(type)'") }
        reader.moveReaderIndex(forwardBy: count)
    }

    private static func readNullTerminatedString(_ reader: inout ByteBuffer, _ type: String) throws(MediaFormatError) -> String {
        let view = reader.readableBytesView
        guard let end = view.firstIndex(of: 0) else { throw .truncated("ISO BMFF '\(type)' string") }
        let length = end - view.startIndex
        let string = reader.readString(length: length) ?? ""
        reader.moveReaderIndex(forwardBy: 1)
        return string
    }
}
