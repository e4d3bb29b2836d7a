import Foundation
import LiveMedia
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One live channel's transcoder: a supervised `ffmpeg` that reads the broadcast (FLV on its stdin, from a
/// ``TranscoderInput`` subscriber) and writes each rendition of the ladder as MPEG-TS into a named pipe of its own,
/// which a reader thread feeds to the rendition (``TranscodedRendition``).
///
/// Supervision: when ffmpeg exits while the channel is live it is started again after a backoff (0.5 s doubling to
/// 30 s; back to 0.5 s after a run of a minute), and the renditions go on after a discontinuity. Each line ffmpeg writes
/// on stderr (it runs at `-loglevel error`) is one warning in the log, at most ``logBurst`` per minute. `stop()` ends
/// it (SIGTERM, then SIGKILL after two seconds); the pipes live in a private temporary folder removed after each run.
final class ChannelTranscoder: Sendable {
    static let logBurst = 10
    static let healthyRun: Duration = .seconds(60)

    let channel: String
    let presets: [RenditionPreset]
    private let broadcast: Broadcast
    private let ffmpeg: String
    private let logger: Logger
    private let renditions: [TranscodedRendition]

    struct State {
        var stopped = false
        var pid: Int32?
        var starts = 0
        var logWindowStart = ContinuousClock.now
        var loggedInWindow = 0
        var suppressed = 0
    }

    private let state = Mutex(State())

    init(channel: String, broadcast: Broadcast, presets: [RenditionPreset], ffmpeg: String, logger: Logger) {
        self.channel = channel
        self.broadcast = broadcast
        self.presets = presets
        self.ffmpeg = ffmpeg
        self.logger = logger
        renditions = broadcast.setRenditions(presets)
    }

    /// The running ffmpeg's process id (tests, `liveloop bench renditions`).
    var pid: Int32? { state.withLock { $0.pid } }
    /// How many times ffmpeg was started.
    var starts: Int { state.withLock { $0.starts } }

    func start() {
        Thread.detachNewThread { [self] in supervise() }
    }

    func stop() {
        let pid = state.withLock { state -> Int32? in
            state.stopped = true
            return state.pid
        }
        guard let pid else { return }
        kill(pid, SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + 2) { [self] in
            // Still the same process (not reused): it did not stop on SIGTERM.
            if self.pid == pid { kill(pid, SIGKILL) }
        }
    }

    private var stopped: Bool { state.withLock { $0.stopped } }

    // MARK: Supervision (on a thread of its own: it waits on processes and pipes)

    private func supervise() {
        var failures = 0
        while !stopped, !broadcast.hasEnded {
            let started = ContinuousClock.now
            let status = runOnce()
            for rendition in renditions { rendition.interrupt(restarted: true) }
            if stopped || broadcast.hasEnded { break }
            failures = ContinuousClock.now - started >= Self.healthyRun ? 0 : failures + 1
            let delay = min(30, 0.5 * pow(2, Double(max(0, failures - 1))))
            logger.warning("ffmpeg (renditions) exited; restarting", metadata: [
                "channel": "\(channel)", "status": "\(status.map(String.init) ?? "not started")",
                "retryIn": "\(delay)s",
            ])
            // Waits in steps, so a stop is noticed at once.
            let until = ContinuousClock.now + .milliseconds(Int(delay * 1000))
            while ContinuousClock.now < until, !stopped, !broadcast.hasEnded { Thread.sleep(forTimeInterval: 0.1) }
        }
        state.withLock { $0.pid = nil }
    }

    /// Runs ffmpeg once, to its exit. Returns its status, nil when it could not be started.
    private func runOnce() -> Int32? {
        let template = NSTemporaryDirectory() + "liveloop-abr-XXXXXX"
        var path = Array(template.utf8CString)
        guard let made = mkdtemp(&path) else {
            logger.error("cannot make a folder for the transcoder's pipes", metadata: ["channel": "\(channel)", "errno": "\(errno)"])
            return nil
        }
        let folder = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let outputs = presets.map { "\(folder)/\($0.name).ts" }
        for output in outputs where mkfifo(output, 0o600) != 0 {
            logger.error("cannot make a pipe for the transcoder", metadata: ["channel": "\(channel)", "errno": "\(errno)"])
            return nil
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: ffmpeg)
        process.arguments = TranscodeCommand(presets: presets, outputs: outputs).arguments
        let input = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        // Our end of stdin, written by the input's thread and closed by it.
        let stdin = dup(input.fileHandleForWriting.fileDescriptor)
        do {
            try ProcessLaunch.run(process)
        } catch {
            close(stdin)
            logger.error("cannot start ffmpeg for renditions", metadata: ["channel": "\(channel)", "error": "\(error)"])
            return nil
        }
        try? input.fileHandleForWriting.close()
        try? input.fileHandleForReading.close()
        let pid = process.processIdentifier
        let stopNow = state.withLock { state -> Bool in
            state.pid = pid
            state.starts += 1
            return state.stopped
        }
        if stopNow { kill(pid, SIGTERM) }

        let readers = zip(renditions, outputs).map { rendition, output in
            let done = DispatchSemaphore(value: 0)
            Thread.detachNewThread { [self] in
                read(output, into: rendition)
                done.signal()
            }
            return done
        }
        let errorsDone = DispatchSemaphore(value: 0)
        let errorHandle = errors.fileHandleForReading
        Thread.detachNewThread { [self] in
            logLines(from: errorHandle)
            errorsDone.signal()
        }
        let subscriber = TranscoderInput(descriptor: stdin)
        let id = broadcast.attach(subscriber)

        exited.wait()
        broadcast.detach(id)
        subscriber.close()
        state.withLock { $0.pid = nil }
        // A reader still waiting for ffmpeg to open its pipe is let go: we open it for writing, and close it.
        for output in outputs {
            let fd = open(output, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
        for done in readers { done.wait() }
        errorsDone.wait()
        if subscriber.skipped > 0 {
            logger.warning("ffmpeg (renditions) fell behind; frames were skipped to the next keyframe",
                           metadata: ["channel": "\(channel)", "skipped": "\(subscriber.skipped)"])
        }
        return process.terminationStatus
    }

    /// Feeds one rendition from its pipe until ffmpeg closes it.
    private func read(_ path: String, into rendition: TranscodedRendition) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var complained = false
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return }
            do {
                try rendition.feed(buffer[0..<count])
            } catch {
                if !complained {
                    complained = true
                    logger.warning("ffmpeg's output is not MPEG-TS", metadata: [
                        "channel": "\(channel)", "rendition": "\(rendition.preset.name)", "error": "\(error)",
                    ])
                }
            }
        }
    }

    /// One warning per stderr line, at most ``logBurst`` a minute (then one line saying how many were left out).
    private func logLines(from handle: FileHandle) {
        var pending = Data()
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            pending += chunk
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending = Data(pending[pending.index(after: newline)...])
                log(line)
            }
            // A line longer than this is cut: nothing ffmpeg writes is kept unbounded.
            if pending.count > 4096 {
                log(String(decoding: pending.prefix(4096), as: UTF8.self))
                pending.removeAll()
            }
        }
        if !pending.isEmpty { log(String(decoding: pending, as: UTF8.self)) }
    }

    private func log(_ line: String) {
        let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return }
        let (write, suppressed) = state.withLock { state -> (Bool, Int) in
            let now = ContinuousClock.now
            var suppressed = 0
            if now - state.logWindowStart >= .seconds(60) {
                suppressed = state.suppressed
                state.logWindowStart = now
                state.loggedInWindow = 0
                state.suppressed = 0
            }
            guard state.loggedInWindow < Self.logBurst else {
                state.suppressed += 1
                return (false, suppressed)
            }
            state.loggedInWindow += 1
            return (true, suppressed)
        }
        if suppressed > 0 {
            logger.warning("ffmpeg (renditions): more lines left out", metadata: ["channel": "\(channel)", "count": "\(suppressed)"])
        }
        if write { logger.warning("ffmpeg (renditions): \(text)", metadata: ["channel": "\(channel)"]) }
    }
}
