import Foundation
import Logging
import MediaFormats
import NIOCore
import NIOPosix
import Synchronization
internal import WebRTC

/// A broadcast's AAC as Opus for its WebRTC viewers (browsers do not take AAC over WebRTC): a supervised `ffmpeg`
/// that reads ADTS on stdin and sends Opus RTP (20 ms packets) to a loopback UDP socket of ours. One per live channel
/// while it has WebRTC viewers that take audio; restarted a second after it dies, stopped with the last viewer.
///
/// Timing: the first Opus packet after a (re)start carries the first AAC frame written since, so an Opus RTP timestamp
/// maps to the broadcast's media time as `P0 + (t − t0) · 90000 / 48000`; sessions stamp and report (RTCP SR) audio on
/// the stream clock like video, so a receiver can line the two up.
///
/// State is touched on the hub's event loop only; stdin is written on a serial queue of its own, at most
/// ``queueLimit`` frames behind (more are dropped), so a stalled ffmpeg never blocks the loop.
final class OpusTranscoder: @unchecked Sendable {
    static let queueLimit = 100

    let channel: String
    private let hub: WebRTCHub
    private let logger: Logger
    private let ffmpeg: String
    private var socket: (any Channel)?
    private var process: Process?
    private var input: FileHandle?
    private let writer = DispatchQueue(label: "liveloop.webrtc.opus")
    private let pending = Atomic<Int>(0)
    private var stopped = false
    private var generation = 0
    private var firstInput: Int64?
    private var base: (rtp: UInt32, media: Int64)?
    private var droppedLogged = false

    init?(channel: String, hub: WebRTCHub, logger: Logger) {
        guard let ffmpeg = Self.findFFmpeg() else { return nil }
        self.channel = channel
        self.hub = hub
        self.logger = logger
        self.ffmpeg = ffmpeg
    }

    static func findFFmpeg() -> String? {
        for directory in ["/usr/bin", "/usr/local/bin"] + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        where FileManager.default.isExecutableFile(atPath: directory + "/ffmpeg") {
            return directory + "/ffmpeg"
        }
        return nil
    }

    /// Binds the loopback socket, then starts ffmpeg sending to it. On the hub's loop.
    func start() {
        // A write to the pipe of an ffmpeg that just died must fail with EPIPE, not end the server.
        signal(SIGPIPE, SIG_IGN)
        LoopbackSocket.bind(on: hub.loop, handler: OpusInboundHandler(transcoder: self), isStopped: { [self] in stopped }) { [self] result in
            switch result {
            case let .success(channel):
                socket = channel
                spawn()
            case let .failure(error):
                logger.warning("WebRTC audio: no loopback socket for ffmpeg; video only", metadata: ["channel": "\(self.channel)", "error": "\(error)"])
            }
        }
    }

    private func spawn() {
        guard !stopped, let port = socket?.localAddress?.port else { return }
        generation += 1
        firstInput = nil
        base = nil
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ffmpeg)
        process.arguments = [
            "-hide_banner", "-loglevel", "error", "-probesize", "32", "-analyzeduration", "0", "-fflags", "nobuffer",
            "-f", "aac", "-i", "pipe:0", "-vn", "-c:a", "libopus", "-b:a", "64k", "-ar", "48000", "-ac", "2",
            "-application", "lowdelay", "-frame_duration", "20", "-f", "rtp", "-payload_type", "111",
            "rtp://127.0.0.1:\(port)?pkt_size=1200",
        ]
        let stdin = Pipe()
        process.standardInput = stdin
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let generation = generation
        let loop = hub.loop
        process.terminationHandler = { [self] _ in
            loop.execute { [self] in exited(generation: generation) }
        }
        do {
            try ProcessLaunch.run(process)
        } catch {
            logger.warning("WebRTC audio: ffmpeg did not start; video only", metadata: ["channel": "\(channel)", "error": "\(error)"])
            return
        }
        self.process = process
        input = stdin.fileHandleForWriting
        logger.info("WebRTC audio: ffmpeg transcodes AAC to Opus", metadata: ["channel": "\(channel)", "pid": "\(process.processIdentifier)"])
    }

    private func exited(generation: Int) {
        guard generation == self.generation, !stopped else { return }
        logger.warning("WebRTC audio: ffmpeg exited; restarting in 1 s", metadata: ["channel": "\(channel)"])
        process = nil
        input = nil
        hub.loop.scheduleTask(in: .seconds(1)) { [self] in spawn() }
    }

    /// One AAC frame of the broadcast, as ADTS to ffmpeg.
    func write(_ frame: MediaFrame, configuration: AudioSpecificConfig) {
        guard let input, !stopped else { return }
        guard let header = Self.adtsHeader(configuration, payloadLength: frame.data.readableBytes) else { return }
        guard pending.add(1, ordering: .relaxed).newValue <= Self.queueLimit else {
            pending.subtract(1, ordering: .relaxed)
            if !droppedLogged {
                droppedLogged = true
                logger.warning("WebRTC audio: ffmpeg falls behind; dropping AAC frames", metadata: ["channel": "\(channel)"])
            }
            return
        }
        if firstInput == nil { firstInput = frame.pts }
        let bytes = Data(header + Array(frame.data.readableBytesView))
        writer.async { [self] in
            try? input.write(contentsOf: bytes)
            pending.subtract(1, ordering: .relaxed)
        }
    }

    /// An Opus RTP packet from ffmpeg: its payload and its first sample's media time, to every session.
    func received(_ packet: [UInt8]) {
        guard let header = RTPHeader(parsing: packet), packet.count > RTPHeader.length, let firstInput else { return }
        // ffmpeg's RTP has no CSRCs or extensions; refuse anything else rather than misread it.
        guard packet[0] & 0x1F == 0 else { return }
        let base = self.base ?? (header.timestamp, firstInput)
        self.base = base
        let elapsed = Int64(Int32(bitPattern: header.timestamp &- base.rtp))
        let mediaTime = base.media + elapsed * 90_000 / 48_000
        hub.deliverOpus(Array(packet[RTPHeader.length...]), mediaTime: mediaTime, channel: channel)
    }

    func stop() {
        stopped = true
        generation += 1
        if let process, process.isRunning { process.terminate() }
        let input = input
        writer.async { try? input?.close() }
        process = nil
        self.input = nil
        socket?.close(promise: nil)
        socket = nil
    }

    /// A 7-byte ADTS header (ISO/IEC 14496-3 §1.A.2.2, no CRC) for one raw AAC frame; nil for a configuration ADTS
    /// cannot say (a sampling rate off its table, an object type above 4).
    static func adtsHeader(_ configuration: AudioSpecificConfig, payloadLength: Int) -> [UInt8]? {
        let rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]
        guard let index = rates.firstIndex(of: configuration.samplingFrequency), (1...4).contains(configuration.objectType),
              (0...7).contains(configuration.channelConfiguration) else { return nil }
        let length = payloadLength + 7
        guard length < 1 << 13 else { return nil }
        let profile = UInt8(configuration.objectType - 1), channels = UInt8(configuration.channelConfiguration)
        return [
            0xFF, 0xF1,
            profile << 6 | UInt8(index) << 2 | channels >> 2,
            (channels & 3) << 6 | UInt8(length >> 11),
            UInt8(length >> 3 & 0xFF),
            UInt8(length & 7) << 5 | 0x1F,
            0xFC,
        ]
    }
}

/// The transcoder's loopback socket: each Opus RTP packet ffmpeg sends, from 127.0.0.1 only.
final class OpusInboundHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let transcoder: OpusTranscoder

    init(transcoder: OpusTranscoder) { self.transcoder = transcoder }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress.ipAddress == "127.0.0.1" else { return }
        transcoder.received(Array(envelope.data.readableBytesView))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// A UDP socket on 127.0.0.1 (any port) on `loop`, with `handler` (if any) reading it: how the server talks to the
/// `ffmpeg` processes it supervises for WebRTC.
enum LoopbackSocket {
    /// `done` hears the socket, or why there is none; a socket bound after its owner stopped (`isStopped`) is closed
    /// and `done` not called.
    static func bind(on loop: any EventLoop, handler: (any ChannelHandler & Sendable)?, isStopped: @escaping @Sendable () -> Bool,
                     _ done: @escaping @Sendable (Result<any Channel, any Error>) -> Void) {
        DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let handler { try channel.pipeline.syncOperations.addHandler(handler) }
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .whenComplete { result in
                if case let .success(channel) = result, isStopped() {
                    channel.close(promise: nil)
                    return
                }
                done(result)
            }
    }
}
