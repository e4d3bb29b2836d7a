import Foundation
import LiveMedia
import Logging
import MediaFormats
import NIOCore
import NIOPosix
import Synchronization
internal import WebRTC

/// What a WHIP publisher's browser sends, made into the broadcast's H.264 and AAC by a supervised `ffmpeg`: the
/// session's decrypted RTP and RTCP go to ffmpeg's loopback ports (an SDP on its stdin describes them); ffmpeg
/// depacketizes, passes H.264 through (or encodes VP8 as H.264 with a keyframe every segment target and no
/// B-frames, so WebRTC viewers can watch too), encodes Opus as AAC, and writes MPEG-TS on stdout, which is demuxed
/// into the broadcast as an SRT publisher's is. Cues and the stream clock work as for any ingest.
///
/// Keyframes: after each ffmpeg start (it misses what came before it listened) and, when H.264 passes through, every
/// segment target (segments close at keyframes) and when a WebRTC viewer asks, the session sends the browser a PLI.
///
/// An ffmpeg that exits while the session lives is restarted after 1, 2, 4… s (at most 10), its last error in the log;
/// the broadcast marks a discontinuity. State is touched on the hub's event loop only; stdout is read on a thread.
final class WHIPPublisher: @unchecked Sendable {
    static let maximumBackoff: TimeAmount = .seconds(10)

    let channel: String
    let broadcast: Broadcast
    let codec: WHIPOffer.VideoCodec
    private let offer: WHIPOffer
    private let loop: any EventLoop
    private let logger: Logger
    private let ffmpeg: String
    private var socket: (any Channel)?
    private var process: Process?
    /// Where ffmpeg listens, once it does: RTP and RTCP of each track (made once, not per packet).
    private var ports: Ports?
    struct Ports {
        var video: (rtp: SocketAddress, rtcp: SocketAddress)
        var audio: (rtp: SocketAddress, rtcp: SocketAddress)

        init?(video: Int, audio: Int) {
            func pair(_ port: Int) -> (SocketAddress, SocketAddress)? {
                guard let rtp = try? SocketAddress(ipAddress: "127.0.0.1", port: port),
                      let rtcp = try? SocketAddress(ipAddress: "127.0.0.1", port: port + 1) else { return nil }
                return (rtp, rtcp)
            }
            guard let video = pair(video), let audio = pair(audio) else { return nil }
            self.video = video
            self.audio = audio
        }
    }
    private var stopped = false
    private var generation = 0
    private var starts = 0
    private var backoff: TimeAmount = .seconds(1)
    /// When the session should next ask for a keyframe after an ffmpeg start.
    private var keyframeDue: [NIODeadline] = []
    private var lastKeyframeRequest: NIODeadline?
    private var packetsForwarded = 0
    /// The broadcast's segment target: how far apart keyframes are.
    private let keyframeInterval: TimeAmount

    init?(channel: String, broadcast: Broadcast, offer: WHIPOffer, loop: any EventLoop, logger: Logger) {
        guard let ffmpeg = OpusTranscoder.findFFmpeg() else { return nil }
        self.channel = channel
        self.broadcast = broadcast
        self.offer = offer
        codec = offer.videoCodec
        self.loop = loop
        self.logger = logger
        self.ffmpeg = ffmpeg
        keyframeInterval = .milliseconds(Int64(broadcast.configuration.segmentTarget * 1000))
    }

    /// Binds the loopback socket we send to ffmpeg from, then starts ffmpeg. On the hub's loop.
    func start() {
        LoopbackSocket.bind(on: loop, handler: nil, isStopped: { [self] in stopped }) { [self] result in
            switch result {
            case let .success(channel):
                socket = channel
                spawn()
            case let .failure(error):
                logger.error("WHIP: no loopback socket for ffmpeg", metadata: ["channel": "\(self.channel)", "error": "\(error)"])
            }
        }
    }

    /// The ffmpeg command for ports `video` and `audio` (each with RTCP on the next port).
    static func arguments(offer: WHIPOffer, video: Int, audio: Int, keyframeSeconds: Double) -> [String] {
        var arguments = [
            "-hide_banner", "-loglevel", "error", "-protocol_whitelist", "pipe,udp,rtp",
            "-fflags", "+nobuffer+genpts", "-localaddr", "127.0.0.1",
            "-f", "sdp", "-i", "pipe:0", "-map", "0:v:0",
        ]
        if offer.audio != nil { arguments += ["-map", "0:a:0"] }
        switch offer.videoCodec {
        case .h264:
            arguments += ["-c:v", "copy"]
        case .vp8:
            arguments += [
                "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-bf", "0", "-pix_fmt", "yuv420p",
                "-force_key_frames", "expr:gte(t,n_forced*\(keyframeSeconds))", "-b:v", "2500k", "-maxrate", "3000k", "-bufsize", "3000k",
            ]
        }
        if offer.audio != nil { arguments += ["-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"] }
        arguments += ["-f", "mpegts", "-muxdelay", "0", "-muxpreload", "0", "-flush_packets", "1", "pipe:1"]
        return arguments
    }

    /// The SDP ffmpeg reads: the answer's codecs on loopback ports, plain RTP (the session decrypted it). Written from
    /// what the server chose, not copied from the offer: a publisher's SDP text never reaches ffmpeg.
    static func sdp(offer: WHIPOffer, video: Int, audio: Int) -> String {
        var lines = ["v=0", "o=- 0 0 IN IP4 127.0.0.1", "s=liveloop whip", "c=IN IP4 127.0.0.1", "t=0 0"]
        let videoType = offer.video.payloadType
        lines.append("m=video \(video) RTP/AVP \(videoType)")
        switch offer.videoCodec {
        case .h264:
            // SPS and PPS come in-band (browsers send them with every keyframe).
            lines += ["a=rtpmap:\(videoType) H264/90000", "a=fmtp:\(videoType) packetization-mode=1"]
        case .vp8:
            lines.append("a=rtpmap:\(videoType) VP8/90000")
        }
        if let track = offer.audio {
            lines += ["m=audio \(audio) RTP/AVP \(track.payloadType)", "a=rtpmap:\(track.payloadType) opus/48000/2"]
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    private func spawn() {
        guard !stopped else { return }
        guard let video = LoopbackPorts.freePair(), let audio = LoopbackPorts.freePair(excluding: video) else {
            logger.error("WHIP: no free loopback ports for ffmpeg; retrying", metadata: ["channel": "\(channel)"])
            scheduleRestart()
            return
        }
        generation += 1
        starts += 1
        ports = nil
        if starts > 1 {
            // A new ffmpeg is a new timeline: the playlist goes on after a discontinuity.
            _ = broadcast.publisherDisconnected()
            broadcast.publisherReconnected()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ffmpeg)
        process.arguments = Self.arguments(offer: offer, video: video, audio: audio,
                                           keyframeSeconds: Double(keyframeInterval.nanoseconds) / 1e9)
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let generation = generation
        let loop = loop
        let errors = ErrorTail()
        stderr.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil } else { errors.append(data) }
        }
        process.terminationHandler = { [self] process in
            let status = process.terminationStatus
            loop.execute { [self] in exited(generation: generation, status: status, error: errors.text) }
        }
        do {
            try ProcessLaunch.run(process)
        } catch {
            logger.error("WHIP: ffmpeg did not start", metadata: ["channel": "\(channel)", "error": "\(error)"])
            scheduleRestart()
            return
        }
        self.process = process
        try? stdin.fileHandleForWriting.write(contentsOf: Data(Self.sdp(offer: offer, video: video, audio: audio).utf8))
        try? stdin.fileHandleForWriting.close()
        let reader = TSReader(broadcast: broadcast, channel: channel, logger: logger, handle: stdout.fileHandleForReading)
        let thread = Thread { reader.run() }
        thread.name = "liveloop.whip.\(channel)"
        thread.start()
        // ffmpeg binds its ports a moment after it starts; until then packets are lost, keyframes with them.
        loop.scheduleTask(in: .milliseconds(150)) { [self] in
            guard self.generation == generation, !stopped else { return }
            ports = Ports(video: video, audio: audio)
            let now = NIODeadline.now()
            // Passed-through H.264 is asked every segment target from now on; VP8 a few times, until x264 has one.
            lastKeyframeRequest = nil
            keyframeDue = codec == .h264 ? [now] : [now, now + .milliseconds(500), now + .milliseconds(1500), now + .seconds(3)]
        }
        logger.info("WHIP: ffmpeg makes the broadcast's H.264 and AAC",
                    metadata: ["channel": "\(channel)", "pid": "\(process.processIdentifier)", "video": "\(codec.rawValue)",
                               "transcoding": "\(codec == .h264 ? "audio" : "video and audio")"])
    }

    private func exited(generation: Int, status: Int32, error: String) {
        guard generation == self.generation, !stopped else { return }
        process = nil
        ports = nil
        logger.warning("WHIP: ffmpeg exited; restarting in \(backoff.nanoseconds / 1_000_000_000) s",
                       metadata: ["channel": "\(channel)", "status": "\(status)", "error": "\(error.isEmpty ? "(none)" : error)"])
        scheduleRestart()
    }

    private func scheduleRestart() {
        let delay = backoff
        backoff = min(.nanoseconds(backoff.nanoseconds * 2), Self.maximumBackoff)
        loop.scheduleTask(in: delay) { [self] in spawn() }
    }

    /// A packet the session decrypted, to ffmpeg's port for its track (RTCP to the next port).
    func forward(_ packet: ReceivedPacket) {
        guard let socket, let ports else { return }
        let track = packet.track == .video ? ports.video : ports.audio
        let address = packet.isRTCP ? track.rtcp : track.rtp
        socket.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: socket.allocator.buffer(bytes: packet.bytes)), promise: nil)
        packetsForwarded += 1
        // An ffmpeg that took this much ran: the next failure starts its backoff from a second again.
        if packetsForwarded == 2000 { backoff = .seconds(1) }
    }

    /// Whether the session should ask the browser for a keyframe now.
    func wantsKeyframe(now: NIODeadline) -> Bool {
        guard ports != nil else { return false }
        var due = false
        while let first = keyframeDue.first, first <= now {
            keyframeDue.removeFirst()
            due = true
        }
        if codec == .h264, let last = lastKeyframeRequest, now - last >= keyframeInterval { due = true }
        if due { lastKeyframeRequest = now }
        return due
    }

    /// A WebRTC viewer asked for a keyframe: passed on when the browser's H.264 reaches viewers as it is, once a second at most.
    func viewerWantsKeyframe(now: NIODeadline) -> Bool {
        guard codec == .h264, ports != nil else { return false }
        if let last = lastKeyframeRequest, now - last < .seconds(1) { return false }
        lastKeyframeRequest = now
        return true
    }

    /// The browser's video lost packets: ask for a keyframe, once a second at most.
    func keyframeAfterLoss(now: NIODeadline) -> Bool {
        guard ports != nil else { return false }
        if let last = lastKeyframeRequest, now - last < .seconds(1) { return false }
        lastKeyframeRequest = now
        return true
    }

    func stop() {
        stopped = true
        generation += 1
        if let process, process.isRunning { process.terminate() }
        process = nil
        ports = nil
        socket?.close(promise: nil)
        socket = nil
    }
}

/// ffmpeg's stdout, read on a thread of its own until it ends: MPEG-TS into the broadcast.
private final class TSReader: Sendable {
    let broadcast: Broadcast
    let channel: String
    let logger: Logger
    let handle: FileHandle

    init(broadcast: Broadcast, channel: String, logger: Logger, handle: FileHandle) {
        self.broadcast = broadcast
        self.channel = channel
        self.logger = logger
        self.handle = handle
    }

    func run() {
        var ingest = MPEGTSIngest()
        let descriptor = handle.fileDescriptor
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            do {
                let events = try ingest.feed(buffer[0..<count])
                let now = Date()
                for event in events { broadcast.ingest(event, now: now) }
            } catch {
                logger.error("WHIP: ffmpeg's output is not MPEG-TS (\(error))", metadata: ["channel": "\(channel)"])
                break
            }
        }
        let now = Date()
        for event in ingest.finish() { broadcast.ingest(event, now: now) }
        try? handle.close()
    }
}

/// The last few hundred bytes ffmpeg wrote to stderr, for the log line when it exits.
private final class ErrorTail: Sendable {
    private let bytes = Mutex<[UInt8]>([])

    func append(_ data: Data) {
        bytes.withLock { bytes in
            bytes += data
            if bytes.count > 600 { bytes.removeFirst(bytes.count - 600) }
        }
    }

    var text: String {
        String(decoding: bytes.withLock { $0 }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            .replacingOccurrences(of: "\n", with: " | ")
    }
}
