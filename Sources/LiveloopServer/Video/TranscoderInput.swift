import DequeModule
import Foundation
import LiveMedia
import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The transcoder's input as a broadcast subscriber: each delivery becomes FLV (``FLVStreamWriter``) in a bounded
/// queue, which a thread of its own writes to ffmpeg's standard input (a pipe write may block; ingest never does).
///
/// Policy when full (`maximumQueuedBytes` waiting): skip to the next keyframe. ffmpeg loses a stretch of frames and
/// never its decoder's footing; the renditions then lack those frames while the source has them.
final class TranscoderInput: BroadcastSubscriber {
    static let maximumQueuedBytes = 8 << 20

    struct State {
        var writer = FLVStreamWriter()
        var queue: Deque<ByteBuffer> = []
        var queuedBytes = 0
        var closed = false
        /// Skipped deliveries, for the supervisor's log.
        var skipped = 0
    }

    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)
    private let descriptor: Int32

    /// Writes to `descriptor` (ffmpeg's stdin), which the writer thread closes when it stops.
    init(descriptor: Int32) {
        self.descriptor = descriptor
        Thread.detachNewThread { [self] in run() }
    }

    var overflowPolicy: BroadcastOverflowPolicy { .skipToKeyframe }

    func receive(_ delivery: BroadcastDelivery) -> BroadcastReceipt {
        let accepted = state.withLock { state -> Bool in
            guard !state.closed else { return true }
            if case .frame = delivery, state.queuedBytes > Self.maximumQueuedBytes {
                state.skipped += 1
                return false
            }
            let bytes = state.writer.write(delivery)
            guard bytes.readableBytes > 0 else { return true }
            state.queue.append(bytes)
            state.queuedBytes += bytes.readableBytes
            return true
        }
        if accepted { wakeup.signal() }
        return accepted ? .accepted : .full
    }

    func detached(_ reason: BroadcastDetachReason) { close() }

    /// Stops writing: the thread closes ffmpeg's stdin, so ffmpeg sees the end of its input.
    func close() {
        state.withLock { $0.closed = true }
        wakeup.signal()
    }

    var skipped: Int { state.withLock { $0.skipped } }

    private func run() {
        defer { Glibc.close(descriptor) }
        while true {
            wakeup.wait()
            let (batch, closed) = state.withLock { state -> ([ByteBuffer], Bool) in
                defer {
                    state.queue.removeAll()
                    state.queuedBytes = 0
                }
                return (Array(state.queue), state.closed)
            }
            if closed { return }
            for buffer in batch where !Self.writeAll(buffer, to: descriptor) {
                // ffmpeg went away (EPIPE): nothing more to write.
                state.withLock { $0.closed = true }
                return
            }
        }
    }

    private static func writeAll(_ buffer: ByteBuffer, to descriptor: Int32) -> Bool {
        buffer.withUnsafeReadableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(descriptor, raw.baseAddress.map { $0 + offset }, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }
}
