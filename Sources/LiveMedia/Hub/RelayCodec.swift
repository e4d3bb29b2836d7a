import Foundation
import MediaFormats
import NIOCore
import Synchronization

/// What one node sends another that relays its broadcast (docs/cluster.md): the hub's deliveries as they are — codecs
/// with the stream clock, frames on the broadcast's timeline, interruptions, the end — and the cues added to it.
public enum RelayRecord: Sendable {
    case delivery(BroadcastDelivery)
    case cue(MediaCue)
    /// Sent when nothing else was for a while, so a dead link is told from a quiet one.
    case heartbeat
}

/// The relay's wire format: records of `type (1 byte) · length (4 bytes, big-endian) · payload`, in order, on one
/// HTTP response body. Payloads:
/// - 1 configure: anchor media time (int64), anchor wall clock (float64 seconds since 1970, its bit pattern), then
///   the `avcC` record and the AudioSpecificConfig, each as `length (4 bytes) · bytes` (length 0: none);
/// - 2 frame: track (0 video, 1 audio), flags (1 keyframe, 2 after a timestamp jump), pts and dts (int64, 90 kHz),
///   then the frame's bytes (length-prefixed NAL units, or one raw AAC frame);
/// - 3 interrupt, 4 end, 6 heartbeat: no payload;
/// - 5 cue: the cue as JSON.
public enum RelayCodec {
    public static let maximumRecordBytes = 8 << 20

    public enum DecodeError: Error, Equatable, Sendable {
        case unknownType(UInt8)
        case tooLarge(Int)
        case malformed(String)
    }

    public static func encode(_ record: RelayRecord, into buffer: inout ByteBuffer) {
        switch record {
        case let .delivery(.configure(video, audio, clock)):
            let videoBytes = video?.record ?? [], audioBytes = audio?.bytes ?? []
            header(1, length: 8 + 8 + 4 + videoBytes.count + 4 + audioBytes.count, into: &buffer)
            buffer.writeInteger(clock.anchorMediaTime)
            buffer.writeInteger(clock.anchorWallClock.timeIntervalSince1970.bitPattern)
            buffer.writeInteger(UInt32(videoBytes.count))
            buffer.writeBytes(videoBytes)
            buffer.writeInteger(UInt32(audioBytes.count))
            buffer.writeBytes(audioBytes)
        case let .delivery(.frame(frame, afterJump)):
            header(2, length: 2 + 16 + frame.data.readableBytes, into: &buffer)
            buffer.writeInteger(UInt8(frame.track == .video ? 0 : 1))
            buffer.writeInteger(UInt8((frame.isKeyframe ? 1 : 0) | (afterJump ? 2 : 0)))
            buffer.writeInteger(frame.pts)
            buffer.writeInteger(frame.dts)
            buffer.writeImmutableBuffer(frame.data)
        case .delivery(.interrupt):
            header(3, length: 0, into: &buffer)
        case .delivery(.end):
            header(4, length: 0, into: &buffer)
        case let .cue(cue):
            let json = (try? JSONEncoder().encode(WireCue(cue))) ?? Data()
            header(5, length: json.count, into: &buffer)
            buffer.writeBytes(json)
        case .heartbeat:
            header(6, length: 0, into: &buffer)
        }
    }

    private static func header(_ type: UInt8, length: Int, into buffer: inout ByteBuffer) {
        buffer.writeInteger(type)
        buffer.writeInteger(UInt32(length))
    }

    /// Takes the next whole record off the front of `buffer`; nil (and nothing taken) while it is incomplete.
    public static func decode(from buffer: inout ByteBuffer) throws(DecodeError) -> RelayRecord? {
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let length = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt32.self).map(Int.init) else { return nil }
        guard length <= maximumRecordBytes else { throw .tooLarge(length) }
        guard buffer.readableBytes >= 5 + length else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        guard var payload = buffer.readSlice(length: length) else { return nil }
        switch type {
        case 1:
            guard let anchor = payload.readInteger(as: Int64.self), let wall = payload.readInteger(as: UInt64.self),
                  let videoLength = payload.readInteger(as: UInt32.self), let videoBytes = payload.readBytes(length: Int(videoLength)),
                  let audioLength = payload.readInteger(as: UInt32.self), let audioBytes = payload.readBytes(length: Int(audioLength))
            else { throw .malformed("short configure record") }
            let seconds = Double(bitPattern: wall)
            guard seconds.isFinite else { throw .malformed("bad clock") }
            do {
                let video = videoBytes.isEmpty ? nil : try AVCDecoderConfiguration(record: videoBytes)
                let audio = audioBytes.isEmpty ? nil : try AudioSpecificConfig(bytes: audioBytes)
                let clock = StreamClock(anchorMediaTime: anchor, anchorWallClock: Date(timeIntervalSince1970: seconds))
                return .delivery(.configure(video: video, audio: audio, clock: clock))
            } catch {
                throw .malformed("bad codec configuration: \(error)")
            }
        case 2:
            guard let track = payload.readInteger(as: UInt8.self), track <= 1, let flags = payload.readInteger(as: UInt8.self),
                  let pts = payload.readInteger(as: Int64.self), let dts = payload.readInteger(as: Int64.self)
            else { throw .malformed("short frame record") }
            let frame = MediaFrame(track: track == 0 ? .video : .audio, pts: pts, dts: dts, isKeyframe: flags & 1 != 0, data: payload)
            return .delivery(.frame(frame, afterJump: flags & 2 != 0))
        case 3: return .delivery(.interrupt)
        case 4: return .delivery(.end)
        case 5:
            guard let cue = try? JSONDecoder().decode(WireCue.self, from: Data(payload.readableBytesView)) else {
                throw .malformed("bad cue")
            }
            return .cue(cue.cue)
        case 6: return .heartbeat
        default: throw .unknownType(type)
        }
    }

    /// A cue as JSON (the program date in milliseconds since 1970, the payload as base64).
    struct WireCue: Codable {
        var id: String
        var kind: String
        var mediaTime: Int64
        var programDate: Double
        var duration: Double?
        var attributes: [String: String]
        var payload: Data

        init(_ cue: MediaCue) {
            id = cue.id
            kind = cue.kind
            mediaTime = cue.mediaTime
            programDate = cue.programDate.timeIntervalSince1970 * 1000
            duration = cue.duration
            attributes = cue.attributes
            payload = Data(cue.payload)
        }

        var cue: MediaCue {
            MediaCue(id: id, kind: kind, mediaTime: mediaTime, programDate: Date(timeIntervalSince1970: programDate / 1000),
                     duration: duration, attributes: attributes, payload: [UInt8](payload))
        }
    }
}

/// The origin's end of a relay: a subscriber of the broadcast that encodes each delivery (and each cue) into a
/// bounded queue of bytes an HTTP response streams out. A relay whose link cannot keep up for ``limit`` bytes is
/// detached (the other node reconnects and starts again at a keyframe): it never holds ingest back.
public final class NodeRelayFeed: BroadcastSubscriber, Sendable {
    public var overflowPolicy: BroadcastOverflowPolicy { .dropSubscriber }
    public let limit: Int
    private let state: Mutex<State>
    private let continuation: AsyncStream<ByteBuffer>.Continuation
    /// The bytes the response writes, in order; it finishes when the relay is detached.
    public let stream: AsyncStream<ByteBuffer>

    struct State: Sendable {
        var queued = 0
        var closed = false
    }

    public init(limit: Int = 16 << 20) {
        self.limit = limit
        state = Mutex(State())
        (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
    }

    public func receive(_ delivery: BroadcastDelivery) -> BroadcastReceipt {
        send(.delivery(delivery)) ? .accepted : .full
    }

    public func detached(_ reason: BroadcastDetachReason) {
        close()
    }

    /// Queues a record; false (and nothing queued) when the queue holds `limit` bytes already or the feed is closed.
    @discardableResult
    public func send(_ record: RelayRecord) -> Bool {
        var buffer = ByteBuffer()
        RelayCodec.encode(record, into: &buffer)
        let size = buffer.readableBytes
        let taken = state.withLock { state -> Bool in
            guard !state.closed, state.queued + size <= limit else { return false }
            state.queued += size
            return true
        }
        if taken { continuation.yield(buffer) }
        return taken
    }

    /// The response wrote `bytes` of what was queued.
    public func written(_ bytes: Int) {
        state.withLock { $0.queued -= bytes }
    }

    public func close() {
        let wasOpen = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        if wasOpen { continuation.finish() }
    }
}
