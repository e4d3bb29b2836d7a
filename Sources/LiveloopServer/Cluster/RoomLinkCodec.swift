import Foundation
import Interaction
import NIOCore

/// What the room's node sends down a room link to another node (docs/cluster.md, "Rooms across nodes"): the room's
/// broadcasts once each with their audience and cue, and the frames of that node's clients one by one. A record is a
/// type byte, a big-endian 32-bit length and that many bytes: a JSON header (its own 16-bit length first) and the
/// frame's bytes exactly as the clients get them.
enum RoomLinkRecord: Sendable, Equatable {
    /// The link is open; `epoch` names it in the node's event posts.
    case ready(epoch: Int)
    /// A broadcast for every client of that node in `audience`, held for each viewer's playhead when it has a cue.
    case broadcast(RoomBroadcast.Audience, cue: CueStamp?, frame: ByteBuffer)
    /// A frame for one client (`connection` is that node's number for it); the first is the client's `hello`.
    case direct(connection: Int, cue: CueStamp?, frame: ByteBuffer)
    /// The room is done with a client: close it after what it has queued, or at once (`dropped`: too slow).
    case close(connection: Int, dropped: Bool)
    case heartbeat
}

/// What another node posts to the room's node: its clients arriving, their requests (the frames as they sent them),
/// and their leaving, in the order they happened there.
struct RoomLinkEvent: Sendable, Codable, Equatable {
    enum Kind: String, Sendable, Codable {
        case connect, request, disconnect
        /// A broadcast began or ended on the sending node (its publisher is there): the room records it.
        case broadcastBegan, broadcastEnded
        /// The channel's settings changed: the room is rebuilt with them (its links end; every node reconnects).
        case reload
    }

    var kind: Kind
    /// The sending node's number for the client.
    var connection: Int
    /// Who the client is (`connect`): the sending node checked its token.
    var identity: Identity?
    /// What the client saw last (`connect`), to resume after it.
    var lastSeq: UInt64?
    /// The client's frame (`request`).
    var text: String?
    /// The broadcast's id and when it began or ended (seconds since 1970).
    var broadcast: String?
    var at: Double?
}

/// The room link's wire format, both ways: records of a type byte, a big-endian 32-bit length and that many bytes.
/// The hot records (a client's frame down, a client's request up) carry the client's number as a 64-bit integer and
/// the bytes as they are; only what is rare (a broadcast's audience and cue, a client's identity) is JSON.
enum RoomLinkCodec {
    /// The largest record either end accepts (a `hello` with the whole chat history fits many times over).
    static let maximumRecordBytes = 4 << 20

    enum DecodeError: Error, Equatable {
        case tooLarge(Int)
        case unknownType(UInt8)
        case malformed
    }

    /// The JSON part of a broadcast or a cue-bearing frame.
    private struct Meta: Codable {
        var audience: RoomBroadcast.Audience?
        var cue: CueStamp?
    }

    private static func frame(_ type: UInt8, into buffer: inout ByteBuffer, _ body: (inout ByteBuffer) -> Void) {
        buffer.writeInteger(type)
        let lengthAt = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        body(&buffer)
        buffer.setInteger(UInt32(buffer.writerIndex - lengthAt - 4), at: lengthAt)
    }

    /// The body of the next whole record at the front of `buffer` (consumed) and its type; nil until it has arrived.
    private static func next(from buffer: inout ByteBuffer, types: ClosedRange<UInt8>) throws(DecodeError) -> (UInt8, ByteBuffer)? {
        guard let type: UInt8 = buffer.getInteger(at: buffer.readerIndex),
              let length: UInt32 = buffer.getInteger(at: buffer.readerIndex + 1) else { return nil }
        guard length <= maximumRecordBytes else { throw .tooLarge(Int(length)) }
        guard types.contains(type) else { throw .unknownType(type) }
        guard buffer.readableBytes >= 5 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        guard let body = buffer.readSlice(length: Int(length)) else { throw .malformed }
        return (type, body)
    }

    private static func writeMeta(_ meta: Meta?, into buffer: inout ByteBuffer) {
        let bytes = meta.flatMap { try? JSONEncoder().encode($0) } ?? Data()
        buffer.writeInteger(UInt16(bytes.count))
        buffer.writeBytes(bytes)
    }

    private static func readMeta(from body: inout ByteBuffer) throws(DecodeError) -> Meta? {
        guard let length: UInt16 = body.readInteger() else { throw .malformed }
        guard length > 0 else { return nil }
        guard let bytes = body.readBytes(length: Int(length)),
              let meta = try? JSONDecoder().decode(Meta.self, from: Data(bytes)) else { throw .malformed }
        return meta
    }

    // MARK: Down (the room's node → another node)

    static func encode(_ record: RoomLinkRecord, into buffer: inout ByteBuffer) {
        switch record {
        case let .ready(epoch):
            frame(1, into: &buffer) { $0.writeInteger(Int64(epoch)) }
        case let .broadcast(audience, cue, body):
            frame(2, into: &buffer) { buffer in
                writeMeta(Meta(audience: audience, cue: cue), into: &buffer)
                buffer.writeImmutableBuffer(body)
            }
        case let .direct(connection, cue, body):
            frame(3, into: &buffer) { buffer in
                buffer.writeInteger(Int64(connection))
                writeMeta(cue.map { Meta(cue: $0) }, into: &buffer)
                buffer.writeImmutableBuffer(body)
            }
        case let .close(connection, dropped):
            frame(4, into: &buffer) { buffer in
                buffer.writeInteger(Int64(connection))
                buffer.writeInteger(UInt8(dropped ? 1 : 0))
            }
        case .heartbeat:
            frame(5, into: &buffer) { _ in }
        }
    }

    /// The next whole record at the front of `buffer` (consumed), nil when it has not all arrived.
    static func decode(from buffer: inout ByteBuffer) throws(DecodeError) -> RoomLinkRecord? {
        guard case (let type, var body)? = try next(from: &buffer, types: 1...5) else { return nil }
        switch type {
        case 1:
            guard let epoch: Int64 = body.readInteger() else { throw .malformed }
            return .ready(epoch: Int(epoch))
        case 2:
            guard let meta = try readMeta(from: &body), let audience = meta.audience else { throw .malformed }
            return .broadcast(audience, cue: meta.cue, frame: body)
        case 3:
            guard let connection: Int64 = body.readInteger() else { throw .malformed }
            let meta = try readMeta(from: &body)
            return .direct(connection: Int(connection), cue: meta?.cue, frame: body)
        case 4:
            guard let connection: Int64 = body.readInteger(), let dropped: UInt8 = body.readInteger() else { throw .malformed }
            return .close(connection: Int(connection), dropped: dropped != 0)
        default:
            return .heartbeat
        }
    }

    // MARK: Up (another node → the room's node)

    /// A client's request (its frame as it sent it) and its leaving are binary; the rest is the event as JSON.
    static func encode(_ event: RoomLinkEvent, into buffer: inout ByteBuffer) {
        switch event.kind {
        case .request:
            frame(11, into: &buffer) { buffer in
                buffer.writeInteger(Int64(event.connection))
                buffer.writeString(event.text ?? "")
            }
        case .disconnect:
            frame(12, into: &buffer) { $0.writeInteger(Int64(event.connection)) }
        case .connect, .broadcastBegan, .broadcastEnded, .reload:
            guard let data = try? JSONEncoder().encode(event) else { return }
            frame(13, into: &buffer) { $0.writeBytes(data) }
        }
    }

    static func heartbeat(into buffer: inout ByteBuffer) {
        frame(14, into: &buffer) { _ in }
    }

    /// The next whole event at the front of `buffer` (consumed); nil when it has not all arrived. A heartbeat decodes
    /// as nothing and is skipped.
    static func decodeEvent(from buffer: inout ByteBuffer) throws(DecodeError) -> RoomLinkEvent?? {
        guard case (let type, var body)? = try next(from: &buffer, types: 11...14) else { return nil }
        switch type {
        case 11:
            guard let connection: Int64 = body.readInteger(), let text = body.readString(length: body.readableBytes) else { throw .malformed }
            return .some(RoomLinkEvent(kind: .request, connection: Int(connection), text: text))
        case 12:
            guard let connection: Int64 = body.readInteger() else { throw .malformed }
            return .some(RoomLinkEvent(kind: .disconnect, connection: Int(connection)))
        case 13:
            guard let event = try? JSONDecoder().decode(RoomLinkEvent.self, from: Data(body.readableBytesView)) else { throw .malformed }
            return .some(event)
        default:
            return .some(nil)
        }
    }
}
