import Foundation
import HTTPTypes
import Hummingbird
import LiveMedia
import NIOCore
import Synchronization

/// `GET /live/CHANNEL/thumbnail.jpg`: a 320-pixel-wide picture of the latest keyframe, for the front page.
///
/// Decoding needs a video decoder, so this supervises `ffmpeg` (one short process per refresh, fed the init segment
/// and the keyframe's part on stdin). Pictures are cached for ten seconds; where ffmpeg is not installed the route
/// answers 404 and pages show their placeholder.
final class Thumbnails: Sendable {
    static let refreshInterval: TimeInterval = 10
    static let timeout: TimeInterval = 5

    private let cache = Mutex<[String: (at: Date, jpeg: ByteBuffer)]>([:])
    let ffmpeg: String?

    init() {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        ffmpeg = paths.map { "\($0)/ffmpeg" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

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
        let now = Date()
        if let cached = cache.withLock({ $0[channel] }), now.timeIntervalSince(cached.at) < Self.refreshInterval {
            return cached.jpeg
        }
        guard let ffmpeg, let (initSegment, part) = broadcast.latestKeyframe else { return nil }
        var input = initSegment
        var partBytes = part
        input.writeBuffer(&partBytes)
        let bytes = Data(input.readableBytesView)
        let jpeg: Data? = await withCheckedContinuation { continuation in
            // Waiting on a process blocks: do it on a thread of its own, never on the cooperative pool.
            Thread.detachNewThread { continuation.resume(returning: Self.decode(bytes, ffmpeg: ffmpeg)) }
        }
        guard let jpeg, !jpeg.isEmpty else { return nil }
        let buffer = ByteBuffer(bytes: jpeg)
        cache.withLock { $0[channel] = (now, buffer) }
        return buffer
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
        do { try process.run() } catch { return nil }
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
