import Foundation
import HTTPTypes
import Hummingbird
import LiveMedia
import NIOCore
import Synchronization

/// `GET /live/CHANNEL/thumbnail.jpg`: a 320-pixel-wide picture of the latest keyframe, for the front page.
///
/// Decoding needs a video decoder, so this supervises `ffmpeg` (one short process per refresh, fed the init segment
/// and the keyframe's part on stdin). It is work done on behalf of anyone who asks, so it is bounded (issue #10):
/// at most one ffmpeg per channel at a time (requests that come while it runs wait for that picture, or get the last
/// one), at most `maximumConcurrentRuns` in all (more wait their turn, one per live channel at most), and a picture
/// is served for ten seconds, then served stale while the next one is made. Where ffmpeg is not installed the route
/// answers 404 and pages show their placeholder.
final class Thumbnails: Sendable {
    static let refreshInterval: TimeInterval = 10
    static let timeout: TimeInterval = 5
    /// ffmpeg processes at once, over all channels.
    static let maximumConcurrentRuns = 2

    private struct State {
        var cache = ThumbnailCache(refreshInterval: Thumbnails.refreshInterval)
        /// Requests waiting for a channel's picture being made.
        var waiters: [String: [CheckedContinuation<ByteBuffer?, Never>]] = [:]
        var running = 0
        /// Refreshes waiting for an ffmpeg slot.
        var queued: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let runs = Atomic<Int>(0)
    let ffmpeg: String?

    init() {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        ffmpeg = paths.map { "\($0)/ffmpeg" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// ffmpeg processes started since the server started (for tests and metrics).
    var ffmpegRuns: Int { runs.load(ordering: .relaxed) }

    func register(on router: Router<LiveloopRequestContext>, registry: BroadcastRegistry) {
        router.get("live/:channel/thumbnail.jpg") { [self] _, context in
            let channel = context.parameters.get("channel") ?? ""
            guard let broadcast = registry.broadcast(channel), !broadcast.hasEnded else {
                throw APIError.notFound("channel \"\(channel)\" is not live")
            }
            guard let jpeg = await thumbnail(channel: channel, broadcast: broadcast) else {
                throw APIError.notFound("no picture yet for \"\(channel)\"")
            }
            return Response(status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "public, max-age=10"],
                            body: .init(byteBuffer: jpeg))
        }
    }

    func thumbnail(channel: String, broadcast: Broadcast) async -> ByteBuffer? {
        guard let ffmpeg else { return nil }
        let plan = state.withLock { $0.cache.request(channel, now: Date()) }
        switch plan {
        case let .serve(jpeg), let .serveStale(jpeg):
            return jpeg
        case let .serveAndRefresh(jpeg):
            Task { await refresh(channel: channel, broadcast: broadcast, ffmpeg: ffmpeg) }
            return jpeg
        case .make:
            return await refresh(channel: channel, broadcast: broadcast, ffmpeg: ffmpeg)
        case .wait:
            return await withCheckedContinuation { continuation in
                let made: ByteBuffer?? = state.withLock { state in
                    // The picture may have been made between the plan and now.
                    if state.cache.entries[channel]?.making == true {
                        state.waiters[channel, default: []].append(continuation)
                        return nil
                    }
                    return .some(state.cache.entries[channel]?.jpeg)
                }
                if let made { continuation.resume(returning: made) }
            }
        }
    }

    /// Makes the channel's picture (waiting for an ffmpeg slot first), stores it and hands it to every waiter.
    private func refresh(channel: String, broadcast: Broadcast, ffmpeg: String) async -> ByteBuffer? {
        var jpeg: ByteBuffer?
        if let (initSegment, part) = broadcast.latestKeyframe {
            await acquireSlot()
            runs.wrappingAdd(1, ordering: .relaxed)
            var input = initSegment
            var partBytes = part
            input.writeBuffer(&partBytes)
            let bytes = Data(input.readableBytesView)
            let data: Data? = await withCheckedContinuation { continuation in
                // Waiting on a process blocks: do it on a thread of its own, never on the cooperative pool.
                Thread.detachNewThread { continuation.resume(returning: Self.decode(bytes, ffmpeg: ffmpeg)) }
            }
            releaseSlot()
            if let data, !data.isEmpty { jpeg = ByteBuffer(bytes: data) }
        }
        let (waiters, served) = state.withLock { state in
            state.cache.made(channel, jpeg: jpeg, now: Date())
            return (state.waiters.removeValue(forKey: channel) ?? [], state.cache.entries[channel]?.jpeg)
        }
        for waiter in waiters { waiter.resume(returning: served) }
        return served
    }

    private func acquireSlot() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.running < Self.maximumConcurrentRuns {
                    state.running += 1
                    return true
                }
                state.queued.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    private func releaseSlot() {
        // The slot passes straight to the next refresh in line, if any.
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if !state.queued.isEmpty { return state.queued.removeFirst() }
            state.running -= 1
            return nil
        }
        next?.resume()
    }

    private static func decode(_ input: Data, ffmpeg: String) -> Data? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ffmpeg)
        process.arguments = ["-hide_banner", "-loglevel", "error", "-f", "mp4", "-i", "pipe:0", "-frames:v", "1",
                             "-vf", "scale=320:-2", "-f", "image2", "-c:v", "mjpeg", "pipe:1"]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        do { try ProcessLaunch.run(process) } catch { return nil }
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        // Feed stdin on another thread so a full stdout pipe cannot deadlock the two.
        Thread.detachNewThread {
            try? stdin.fileHandleForWriting.write(contentsOf: input)
            try? stdin.fileHandleForWriting.close()
        }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        return process.terminationStatus == 0 ? output : nil
    }
}
