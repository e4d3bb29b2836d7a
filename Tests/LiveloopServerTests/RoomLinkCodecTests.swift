import Foundation
import Interaction
import NIOCore
import Testing

@testable import LiveloopServer

/// The room link's records (docs/cluster.md): what one node writes the other reads back, a record split anywhere
/// waits for its rest, and a bad one is refused rather than misread.
struct RoomLinkCodecTests {
    static let cue = CueStamp(at: Timestamp(unixMilliseconds: 1_800_000_000_123), mediaTime: 12.5)

    @Test("records down the link read back as written, whole or split at any byte")
    func downRoundTrip() throws {
        let records: [RoomLinkRecord] = [
            .ready(epoch: 7),
            .broadcast(.everyone, cue: Self.cue, frame: ByteBuffer(string: #"{"type":"poll"}"#)),
            .broadcast(.staffAnd("ada"), cue: nil, frame: ByteBuffer(string: #"{"type":"qa"}"#)),
            .direct(connection: 42, cue: nil, frame: ByteBuffer(string: #"{"type":"ack","id":"v1"}"#)),
            .direct(connection: 43, cue: Self.cue, frame: ByteBuffer(string: #"{"type":"hello"}"#)),
            .close(connection: 42, dropped: true),
            .heartbeat,
        ]
        var wire = ByteBuffer()
        for record in records { RoomLinkCodec.encode(record, into: &wire) }
        var whole = wire
        var read: [RoomLinkRecord] = []
        while let record = try RoomLinkCodec.decode(from: &whole) { read.append(record) }
        #expect(read == records)
        #expect(whole.readableBytes == 0)
        // Byte by byte: nothing is read before a record is whole, and each comes out once.
        var pending = ByteBuffer()
        var trickled: [RoomLinkRecord] = []
        for byte in wire.readableBytesView {
            pending.writeInteger(byte)
            while let record = try RoomLinkCodec.decode(from: &pending) { trickled.append(record) }
        }
        #expect(trickled == records)
    }

    @Test("events up the link read back as written; heartbeats read as nothing")
    func upRoundTrip() throws {
        let events = [
            RoomLinkEvent(kind: .connect, connection: 1, identity: Identity(sub: "ada", name: "Ada", role: .viewer), lastSeq: 99),
            RoomLinkEvent(kind: .request, connection: 1, text: #"{"v":1,"type":"poll.vote","id":"v1","pollID":"p1","choices":[0]}"#),
            RoomLinkEvent(kind: .request, connection: 2, text: "ünïcode ✓"),
            RoomLinkEvent(kind: .disconnect, connection: 1),
            RoomLinkEvent(kind: .broadcastBegan, connection: 0, broadcast: "b1", at: 1_800_000_000.5),
            RoomLinkEvent(kind: .reload, connection: 0),
        ]
        var wire = ByteBuffer()
        for event in events {
            RoomLinkCodec.encode(event, into: &wire)
            RoomLinkCodec.heartbeat(into: &wire)
        }
        var read: [RoomLinkEvent] = []
        while let next = try RoomLinkCodec.decodeEvent(from: &wire) {
            if let event = next { read.append(event) }
        }
        #expect(read == events)
    }

    @Test("an unknown type, an oversized length or a malformed body is refused")
    func refusals() {
        var unknown = ByteBuffer(bytes: [99, 0, 0, 0, 0])
        #expect(throws: RoomLinkCodec.DecodeError.unknownType(99)) { try RoomLinkCodec.decode(from: &unknown) }
        var upType = ByteBuffer(bytes: [3, 0, 0, 0, 0])
        #expect(throws: RoomLinkCodec.DecodeError.unknownType(3)) { try RoomLinkCodec.decodeEvent(from: &upType) }
        var huge = ByteBuffer(bytes: [2, 0x7f, 0xff, 0xff, 0xff])
        #expect(throws: RoomLinkCodec.DecodeError.tooLarge(0x7fff_ffff)) { try RoomLinkCodec.decode(from: &huge) }
        // A direct frame too short for its connection number, a broadcast whose meta is not JSON.
        var short = ByteBuffer(bytes: [3, 0, 0, 0, 2, 0, 1])
        #expect(throws: RoomLinkCodec.DecodeError.malformed) { try RoomLinkCodec.decode(from: &short) }
        var badMeta = ByteBuffer(bytes: [2, 0, 0, 0, 4, 0, 2, 0x7b, 0x7b])
        #expect(throws: RoomLinkCodec.DecodeError.malformed) { try RoomLinkCodec.decode(from: &badMeta) }
        var badJSON = ByteBuffer(bytes: [13, 0, 0, 0, 1, 0x7b])
        #expect(throws: RoomLinkCodec.DecodeError.malformed) { try RoomLinkCodec.decodeEvent(from: &badJSON) }
    }
}
