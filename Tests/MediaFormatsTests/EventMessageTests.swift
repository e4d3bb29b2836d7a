import MediaFormats
import NIOCore
import Testing

@Suite("FMP4.eventMessage: emsg version 1 (ISO/IEC 23009-1 §5.10.3.3)")
struct EventMessageTests {
    @Test("round-trips every field through the reader")
    func roundTrip() throws {
        let message = Array(#"{"cue":"poll","id":"p1"}"#.utf8)
        let emsg = FMP4.eventMessage(
            schemeIDURI: "urn:liveloop:cue:2025", value: "poll", timescale: 90000, presentationTime: 12_345_678_901,
            duration: 270_000, id: 42, message: message)
        let boxes = try ISOBMFFReader.boxes(in: emsg)
        #expect(boxes.count == 1)
        let decoded = try boxes[0].decodeEventMessage()
        #expect(
            decoded
                == .init(
                    version: 1, schemeIDURI: "urn:liveloop:cue:2025", value: "poll", timescale: 90000,
                    presentationTime: 12_345_678_901, eventDuration: 270_000, id: 42, messageData: message))
    }

    @Test("lays out version 1 fields before the strings, as the spec orders them")
    func exactBytes() {
        let emsg = FMP4.eventMessage(
            schemeIDURI: "a", value: "", timescale: 1000, presentationTime: 1, duration: 0xFFFF_FFFF, id: 7, message: [0x99])
        let expected: [UInt8] =
            [0, 0, 0, 36, 0x65, 0x6D, 0x73, 0x67, 1, 0, 0, 0]
            + [0, 0, 0x03, 0xE8]  // timescale
            + [0, 0, 0, 0, 0, 0, 0, 1]  // presentation_time
            + [0xFF, 0xFF, 0xFF, 0xFF]  // event_duration unknown
            + [0, 0, 0, 7]  // id
            + [0x61, 0, 0]  // "a\0", "\0"
            + [0x99]
        #expect(emsg.readableBytesArray == expected)
    }

    @Test("the value type's size is the box's, and writing it gives the same bytes as eventMessage(…)")
    func valueType() throws {
        let event = FMP4.EventMessage(
            schemeIDURI: "https://liveloop.dev/cue/1", value: "quiz.reveal", timescale: 90000, presentationTime: 1 << 40,
            duration: FMP4.unknownEventDuration, id: 0xDEAD_BEEF, message: Array("{\"q\":3}".utf8))
        var writer = ISOBoxWriter(capacity: 0)
        writer.writeEventMessage(event)
        #expect(writer.buffer.readableBytes == event.size)
        let function = FMP4.eventMessage(
            schemeIDURI: event.schemeIDURI, value: event.value, timescale: event.timescale,
            presentationTime: event.presentationTime, duration: event.duration, id: event.id, message: event.message)
        #expect(writer.buffer.readableBytesArray == function.readableBytesArray)
        let decoded = try #require(try ISOBMFFReader.boxes(in: writer.buffer).first).decodeEventMessage()
        #expect(decoded.id == 0xDEAD_BEEF)
        #expect(decoded.eventDuration == 0xFFFF_FFFF)
    }

    @Test("a box cut short or with an unterminated string throws")
    func truncated() throws {
        let emsg = FMP4.eventMessage(
            schemeIDURI: "urn:x", value: "v", timescale: 1, presentationTime: 0, duration: 0, id: 0, message: [])
        let bytes = emsg.readableBytesArray
        var resized = ByteBuffer(bytes: bytes.dropLast(1))
        resized.setInteger(UInt32(bytes.count - 1), at: 0)
        let box = try #require(try ISOBMFFReader.boxes(in: resized).first)
        #expect(throws: MediaFormatError.self) { try box.decodeEventMessage() }
        #expect(throws: MediaFormatError.self) { try ISOBMFFReader.boxes(in: ByteBuffer(bytes: bytes.dropLast(1))) }
    }
}
