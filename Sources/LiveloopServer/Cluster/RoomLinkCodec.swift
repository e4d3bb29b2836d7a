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

enum RoomLinkCodec {
    /// The largest record either end accepts (a `hello` with the whole chat history fits many times over).
    static let maximumRecordBytes = 4 << 20

    enum DecodeError: Error, Equatable {
        case tooLarge(Int)
        case unknownType(UInt8)
        case malformed
    }

    private struct Header: Codable {
        var audience: RoomBroadcast.Audience?
        var cue: CueStamp?
        var connection: Int?
        var epoch: Int?
        var dropped: Bool?
    }

    static func encode(_ record: RoomLinkRecord, into buffer: inout ByteBuffer) {
        let (type, header, frame): (UInt8, Header, ByteBuffer?) = switch record {
        case let .ready(epoch): (1, Header(epoch: epoch), nil)
        case let .broadcast(audience, cue, frame): (2, Header(audience: audience, cue: cue), frame)
        case let .direct(connection, cue, frame): (3, Header(cue: cue, connection: connection), frame)
        case let .close(connection, dropped): (4, Header(connection: connection, dropped: dropped), nil)
        case .heartbeat: (5, Header(), nil)
        }
        let headerBytes = (try? JSONEncoder().encode(header)) ?? Data("{}".utf8)
        buffer.writeInteger(type)
        buffer.writeInteger(UInt32(2 + headerBytes.count + (frame?.readableBytes ?? 0)))
        buffer.writeInteger(UInt16(headerBytes.count))
        buffer.writeBytes(headerBytes)
        if var frame { buffer.writeBuffer(&frame) }
    }

    /// The next whole record at the front of `buffer` (consumed), nil when it has not all arrived.
    static func decode(from buffer: inout ByteBuffer) throws(DecodeError) -> RoomLinkRecord? {
        guard let type: UInt8 = buffer.getInteger(at: buffer.readerIndex),
              let length: UInt32 = buffer.getInteger(at: buffer.readerIndex + 1) else { return nil }
        guard length <= maximumRecordBytes else { throw .tooLarge(Int(length)) }
        guard (1...5).contains(type) else { throw .unknownType(type) }
        guard buffer.readableBytes >= 5 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        guard var body = buffer.readSlice(length: Int(length)), let headerLength: UInt16 = body.readInteger(),
              let headerBytes = body.readBytes(length: Int(headerLength)),
              let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes)) else { throw .malformed }
        switch type {
        case 1:
            guard let epoch = header.epoch else { throw .malformed }
            return .ready(epoch: epoch)
        case 2:
            guard let audience = header.audience else { throw .malformed }
            return .broadcast(audience, cue: header.cue, frame: body)
        case 3:
            guard let connection = header.connection else { throw .malformed }
            return .direct(connection: connection, cue: header.cue, frame: body)
        case 4:
            guard let connection = header.connection else { throw .malformed }
            return .close(connection: connection, dropped: header.dropped ?? false)
        default:
            return .heartbeat
        }
    }
}
