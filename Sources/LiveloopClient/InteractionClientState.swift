import Foundation
import Interaction
import NIOCore

/// The bookkeeping of one `InteractionClient`, free of I/O: which connection attempt is current, the requests
/// waiting for their `ack`/`error`, the `hello`, the last room sequence number seen, and the clock estimate.
///
/// Every input carries the `generation` of the connection it came from; anything from an older connection is
/// ignored, so a late frame or close of a dropped socket cannot disturb its successor.
struct InteractionClientState {
    /// A request waiting for the frame with its `id`.
    struct Pending {
        var continuation: CheckedContinuation<ServerEnvelope, any Error>
        var sentAt: Date
        /// A clock-sync ping: its `pong` becomes a `ClockSample`.
        var isClockProbe: Bool
        var timeout: Scheduled<Void>?
    }

    /// Someone waiting in `connect` for the session to be ready (socket open and `hello` received).
    struct HelloWaiter {
        var generation: Int
        var waiter: ResumeOnce<ServerMessage.Hello>
    }

    /// What the client must do after a frame.
    struct Receipt {
        /// Resume this request with the envelope.
        var reply: Pending?
        /// Hand the envelope to `onEnvelope` and `envelopes`.
        var deliver = false
        /// The session is ready: resume `connect`.
        var ready: (ResumeOnce<ServerMessage.Hello>, ServerMessage.Hello)?
        /// The server refused the session before `hello`.
        var refused: (ResumeOnce<ServerMessage.Hello>, ServerMessage.ErrorBody)?
    }

    var generation = 0
    var transport: (any InteractionTransport)?
    var closedByUser = false
    var pending: [String: Pending] = [:]
    var nextRequestNumber = 0
    var hello: ServerMessage.Hello?
    /// The generation whose `hello` has arrived.
    var helloGeneration: Int?
    var helloWaiter: HelloWaiter?
    var lastSeq: UInt64?
    var clock = ClockSync()

    var isConnected: Bool { transport != nil && helloGeneration == generation && !closedByUser }

    mutating func makeRequestID() -> String {
        nextRequestNumber &+= 1
        return "r\(nextRequestNumber)"
    }

    /// Starts a connection attempt; returns its generation.
    mutating func beginAttempt(waiter: ResumeOnce<ServerMessage.Hello>) -> Int {
        generation &+= 1
        helloWaiter = HelloWaiter(generation: generation, waiter: waiter)
        return generation
    }

    /// The attempt's socket opened. Returns false when the attempt is stale (the caller closes the socket), and
    /// the waiter to resume when the `hello` came first.
    mutating func opened(_ transport: any InteractionTransport, generation: Int)
        -> (current: Bool, ready: (ResumeOnce<ServerMessage.Hello>, ServerMessage.Hello)?) {
        guard generation == self.generation, !closedByUser else { return (false, nil) }
        self.transport = transport
        return (true, takeReadyWaiter())
    }

    private mutating func takeReadyWaiter() -> (ResumeOnce<ServerMessage.Hello>, ServerMessage.Hello)? {
        guard let waiter = helloWaiter, waiter.generation == generation, transport != nil,
              helloGeneration == generation, let hello else { return nil }
        helloWaiter = nil
        return (waiter.waiter, hello)
    }

    /// A frame of connection `generation` arrived at `now`.
    mutating func receive(_ envelope: ServerEnvelope, generation: Int, at now: Date) -> Receipt {
        var receipt = Receipt()
        guard generation == self.generation, !closedByUser else { return receipt }
        if let id = envelope.id, let request = pending.removeValue(forKey: id) {
            if request.isClockProbe, case .pong(let pong) = envelope.message {
                clock.add(ClockSample(sentAt: request.sentAt, serverTime: pong.serverTime, receivedAt: now))
            }
            receipt.reply = request
            return receipt
        }
        switch envelope.message {
        case .hello(let hello):
            self.hello = hello
            helloGeneration = generation
            // A fresh snapshot restarts the count; a recovery keeps ours and the missed broadcasts follow.
            if !hello.recovered || lastSeq == nil { lastSeq = hello.currentSeq }
            receipt.ready = takeReadyWaiter()
            receipt.deliver = true
        case .error(let body) where envelope.id == nil && helloGeneration != generation:
            if let waiter = helloWaiter, waiter.generation == generation {
                helloWaiter = nil
                receipt.refused = (waiter.waiter, body)
            }
            receipt.deliver = true
        default:
            if let seq = envelope.seq {
                // A broadcast already seen (resumed twice) is dropped.
                if let lastSeq, seq <= lastSeq { return receipt }
                lastSeq = seq
            }
            receipt.deliver = true
        }
        return receipt
    }

    /// A broadcast the client skips without decoding still advances `lastSeq`.
    mutating func skipped(seq: UInt64?, generation: Int) {
        guard generation == self.generation, let seq else { return }
        if seq > (lastSeq ?? 0) { lastSeq = seq }
    }

    /// The connection of `generation` ended (or the attempt failed). Returns the requests to fail and whether the
    /// session was established (so a reconnect is due), or nil when that connection was already replaced.
    mutating func ended(generation: Int)
        -> (transport: (any InteractionTransport)?, failed: [Pending], waiter: ResumeOnce<ServerMessage.Hello>?, wasReady: Bool)? {
        guard generation == self.generation else { return nil }
        let wasReady = transport != nil && helloGeneration == generation
        let endedTransport = transport
        transport = nil
        helloGeneration = nil
        // The next attempt's generation starts clean.
        self.generation &+= 1
        let failed = Array(pending.values)
        pending.removeAll()
        var waiter: ResumeOnce<ServerMessage.Hello>?
        if let pendingWaiter = helloWaiter, pendingWaiter.generation == generation {
            waiter = pendingWaiter.waiter
            helloWaiter = nil
        }
        return (endedTransport, failed, waiter, wasReady)
    }
}

/// Reads `type` and `seq` from a small server frame without decoding it, so frames of ignored kinds cost a byte
/// scan instead of a JSON decode. Anything it cannot read with certainty is left to the decoder.
enum InteractionFrameSniffer {
    /// Frames above this are always decoded (ignored kinds are small counters).
    static let maximumBytes = 512

    static func sniff(_ buffer: ByteBuffer) -> (kind: ServerMessage.Kind, seq: UInt64?)? {
        guard buffer.readableBytes <= maximumBytes else { return nil }
        return buffer.withUnsafeReadableBytes { bytes -> (ServerMessage.Kind, UInt64?)? in
            guard let typeStart = find(#""type":""#, in: bytes) else { return nil }
            var end = typeStart
            while end < bytes.count, bytes[end] != UInt8(ascii: "\"") { end += 1 }
            guard end < bytes.count,
                  let kind = ServerMessage.Kind(rawValue: String(decoding: bytes[typeStart..<end], as: UTF8.self))
            else { return nil }
            guard let seqStart = find(#""seq":"#, in: bytes) else { return (kind, nil) }
            var seq: UInt64 = 0
            var index = seqStart
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                let (shifted, overflow) = seq.multipliedReportingOverflow(by: 10)
                guard !overflow else { return nil }
                seq = shifted &+ UInt64(bytes[index] - UInt8(ascii: "0"))
                index += 1
            }
            return index > seqStart ? (kind, seq) : nil
        }
    }

    /// The index just past the first occurrence of `needle`.
    private static func find(_ needle: StaticString, in bytes: UnsafeRawBufferPointer) -> Int? {
        let pattern = UnsafeRawBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
        guard pattern.count <= bytes.count else { return nil }
        var start = 0
        while start + pattern.count <= bytes.count {
            if bytes[start] == pattern[0], bytes[start..<start + pattern.count].elementsEqual(pattern) {
                return start + pattern.count
            }
            start += 1
        }
        return nil
    }
}
