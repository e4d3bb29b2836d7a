import Foundation
import LiveMedia
import Logging
import MediaFormats
import NIOCore
internal import WebRTC

/// Every WHEP session and feed of this node, on one event loop with the UDP socket they share: it demultiplexes
/// datagrams (STUN by the USERNAME's ufrag, everything else by the source address a valid binding bound), packetizes
/// each broadcast's video once and has each session protect and send it, and runs the sessions' timers.
///
/// `@unchecked Sendable`: all state is touched on `loop` only (every entry point is called there; the feeds and the
/// node hop onto it), so no lock is needed.
final class WebRTCHub: @unchecked Sendable {
    struct Entry {
        let session: any PeerSession
        let release: @Sendable () -> Void
        /// A WHIP publisher's ffmpeg bridge; nil for a WHEP viewer.
        var publisher: WHIPPublisher? = nil

        var viewer: WHEPSession? { session as? WHEPSession }
    }

    /// One access unit, packetized once for every viewer of the broadcast.
    struct Unit {
        var payloads: [H264Packetizer.Payload]
        var mediaTime: Int64
        var isKeyframe: Bool
        var bytes: Int
    }

    struct Feed {
        let subscriber: WebRTCFeed
        let broadcast: Broadcast
        let subscriberID: BroadcastSubscriberID
        var video: AVCDecoderConfiguration?
        var audio: AudioSpecificConfig?
        /// AAC → Opus while a viewer takes audio.
        var transcoder: OpusTranscoder?
        var clock: StreamClock?
        /// From the last keyframe on: a viewer whose DTLS completes starts here (bounded by ``gopLimits``).
        var gop: [Unit] = []
        var gopBytes = 0
        var sessions: Set<String> = []
        /// Said once per broadcast: browsers' WebRTC decoders expect no B-frames.
        var warnedAboutBFrames = false
    }

    static let gopLimits = (units: 600, bytes: 16 << 20)
    static let tickInterval: TimeAmount = .milliseconds(200)

    let loop: any EventLoop
    private let logger: Logger
    private var channel: (any Channel)?
    private var sessions: [String: Entry] = [:]
    private var byUfrag: [String: String] = [:]
    private var byAddress: [SocketAddress: String] = [:]
    private var feeds: [String: Feed] = [:]
    /// The WHIP publisher session of each channel that has one.
    private var publishers: [String: String] = [:]
    private var needsFlush = false
    private var tickTask: RepeatedTask?
    private var strayLogged = false
    /// Datagrams dropped because no session owns their address or ufrag (spoofed, late, or garbage).
    private(set) var strayDatagrams = 0

    init(loop: any EventLoop, logger: Logger) {
        self.loop = loop
        self.logger = logger
    }

    var sessionCount: Int { sessions.count }

    func started(on channel: any Channel) {
        self.channel = channel
        tickTask = loop.scheduleRepeatedTask(initialDelay: Self.tickInterval, delay: Self.tickInterval) { [self] _ in tick() }
    }

    func stop() {
        tickTask?.cancel()
        tickTask = nil
        for id in Array(sessions.keys) { close(id, reason: "the server is stopping") }
        for feed in feeds.values {
            feed.transcoder?.stop()
            feed.broadcast.detach(feed.subscriberID)
        }
        feeds.removeAll()
        flush()
        channel = nil
    }

    // MARK: Sessions

    func add(_ session: WHEPSession, broadcast: Broadcast, release: @escaping @Sendable () -> Void) {
        sessions[session.id] = Entry(session: session, release: release)
        byUfrag[session.localUfrag] = session.id
        ensureFeed(broadcast)
        feeds[session.channel]?.sessions.insert(session.id)
        // The channel's first viewer: the feed stops keeping frames by itself and hands over what it kept.
        if let feed = feeds[session.channel], feed.sessions.count == 1, let parked = feed.subscriber.unpark() {
            if parked.resetGOP {
                feeds[session.channel]?.gop = []
                feeds[session.channel]?.gopBytes = 0
            }
            for delivery in parked.deliveries { deliver(delivery, from: feed.subscriber) }
        }
    }

    /// A WHIP publisher: its ffmpeg starts now, so it listens by the time ICE and DTLS are done.
    func add(_ session: WHIPSession, publisher: WHIPPublisher, release: @escaping @Sendable () -> Void) {
        sessions[session.id] = Entry(session: session, release: release, publisher: publisher)
        byUfrag[session.localUfrag] = session.id
        publishers[session.channel] = session.id
        publisher.start()
    }

    /// The channel of WHIP session `id`, nil when there is no such publisher.
    func publisherChannel(id: String) -> String? {
        guard let entry = sessions[id], entry.publisher != nil else { return nil }
        return entry.session.channel
    }

    /// DELETE: false when there is no such session on that channel.
    func remove(id: String, channel: String) -> Bool {
        guard let entry = sessions[id], entry.session.channel == channel else { return false }
        close(id, reason: "the viewer ended it (DELETE)")
        flush()
        return true
    }

    private func close(_ id: String, reason: String) {
        guard let entry = sessions.removeValue(forKey: id) else { return }
        for case let .send(bytes, to) in entry.session.close(reason) { write(bytes, to: to) }
        byUfrag[entry.session.localUfrag] = nil
        if let peer = entry.session.peer, byAddress[peer] == id { byAddress[peer] = nil }
        if let publisher = entry.publisher {
            publisher.stop()
            if publishers[entry.session.channel] == id { publishers[entry.session.channel] = nil }
            entry.release()
            let received = (entry.session as? WHIPSession)?.packetsReceived ?? 0
            logger.info("WHIP session closed", metadata: ["channel": "\(entry.session.channel)", "session": "\(id)", "reason": "\(reason)",
                                                          "packets": "\(received)"])
            return
        }
        feeds[entry.session.channel]?.sessions.remove(id)
        stopTranscoderIfUnused(entry.session.channel)
        if let feed = feeds[entry.session.channel], feed.sessions.isEmpty { feed.subscriber.park() }
        entry.release()
        logger.info("WHEP session closed", metadata: ["channel": "\(entry.session.channel)", "session": "\(id)", "reason": "\(reason)",
                                                      "packets": "\(entry.viewer?.packetsSent ?? 0)", "retransmitted": "\(entry.viewer?.retransmitted ?? 0)"])
    }

    // MARK: Datagrams

    func receive(_ bytes: [UInt8], from address: SocketAddress) {
        let now = NIODeadline.now()
        if STUNMessage.looksLikeSTUN(bytes) {
            guard let message = try? STUNMessage(parsing: bytes), let username = message.username,
                  let colon = username.firstIndex(of: ":"), let id = byUfrag[String(username[..<colon])],
                  let entry = sessions[id] else { return stray(address) }
            perform(entry.session.receive(stun: message, from: address, now: now), for: entry.session)
        } else {
            guard let id = byAddress[address], let entry = sessions[id] else { return stray(address) }
            perform(entry.session.receive(datagram: bytes, from: address, now: now), for: entry.session)
        }
        flush()
    }

    private func stray(_ address: SocketAddress) {
        strayDatagrams += 1
        guard !strayLogged else { return }
        strayLogged = true
        logger.notice("WebRTC: ignoring datagrams that belong to no session (unknown ufrag or address; logged once)",
                      metadata: ["from": "\(address)"])
    }

    private func perform(_ actions: [PeerAction], for session: any PeerSession) {
        for action in actions {
            switch action {
            case let .send(bytes, to):
                write(bytes, to: to)
            case let .bind(address):
                for (known, id) in byAddress where id == session.id { byAddress[known] = nil }
                byAddress[address] = session.id
            case .connected:
                guard let session = session as? WHEPSession else {
                    logger.info("WHIP session connected", metadata: ["channel": "\(session.channel)", "session": "\(session.id)"])
                    continue
                }
                logger.info("WHEP session connected", metadata: ["channel": "\(session.channel)", "session": "\(session.id)"])
                guard let feed = feeds[session.channel] else { continue }
                if session.audioSSRC != nil, feed.audio != nil, feed.transcoder == nil,
                   let transcoder = OpusTranscoder(channel: session.channel, hub: self, logger: logger) {
                    feeds[session.channel]?.transcoder = transcoder
                    transcoder.start()
                }
                for unit in feed.gop {
                    send(unit, to: session)
                }
            case .keyframeRequested where session is WHIPSession:
                // The publisher's video lost packets: whatever the codec, the picture mends at its next keyframe.
                guard let whip = session as? WHIPSession, sessions[whip.id]?.publisher?.keyframeAfterLoss(now: .now()) == true else { continue }
                perform(whip.requestKeyframe(), for: whip)
            case .keyframeRequested:
                // A browser publishing over WHIP can be asked (when its H.264 reaches viewers as it is); RTMP and SRT
                // publishers cannot, and the next keyframe comes with the encoder's GOP.
                guard let id = publishers[session.channel], let entry = sessions[id], let whip = entry.session as? WHIPSession,
                      entry.publisher?.viewerWantsKeyframe(now: .now()) == true else { continue }
                perform(whip.requestKeyframe(), for: whip)
            case let .media(packet):
                sessions[session.id]?.publisher?.forward(packet)
            case let .log(line):
                logger.notice("WebRTC: \(line)", metadata: ["channel": "\(session.channel)", "session": "\(session.id)"])
            case let .close(reason):
                close(session.id, reason: reason)
            }
        }
    }

    private func send(_ unit: Unit, to session: WHEPSession) {
        guard let peer = session.peer else { return }
        for packet in session.send(unit.payloads, mediaTime: unit.mediaTime, isKeyframe: unit.isKeyframe) {
            write(packet, to: peer)
        }
    }

    private func write(_ bytes: [UInt8], to address: SocketAddress) {
        guard let channel else { return }
        let buffer = channel.allocator.buffer(bytes: bytes)
        channel.write(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
        needsFlush = true
    }

    private func flush() {
        guard needsFlush, let channel else { return }
        needsFlush = false
        channel.flush()
    }

    // MARK: Time

    private func tick() {
        let now = NIODeadline.now()
        let wall = Date()
        for entry in Array(sessions.values) {
            if let viewer = entry.viewer {
                let clock = feeds[viewer.channel]?.clock.map { (wallClock: wall, mediaTime: $0.mediaTime(at: wall)) }
                perform(viewer.tick(now: now, clock: clock), for: viewer)
            } else if let publisher = entry.session as? WHIPSession {
                var actions = publisher.tick(now: now)
                if !publisher.isClosed, entry.publisher?.wantsKeyframe(now: now) == true { actions += publisher.requestKeyframe() }
                perform(actions, for: publisher)
            }
        }
        flush()
    }

    // MARK: Feeds

    func ensureFeed(_ broadcast: Broadcast) {
        let id = ObjectIdentifier(broadcast)
        if let feed = feeds[broadcast.channel], feed.subscriber.broadcastID == id { return }
        if let old = feeds.removeValue(forKey: broadcast.channel) {
            // An earlier broadcast on the channel: its viewers watched something that is over.
            for session in old.sessions { close(session, reason: "the broadcast ended") }
            old.broadcast.detach(old.subscriberID)
        }
        let subscriber = WebRTCFeed(channel: broadcast.channel, broadcastID: id, hub: self)
        // `attach` may hand the feed its configuration at once: that only queues a task on this loop, run later.
        let subscriberID = broadcast.attach(subscriber)
        feeds[broadcast.channel] = Feed(subscriber: subscriber, broadcast: broadcast, subscriberID: subscriberID)
    }

    /// Video frames the channel's feed for `broadcast` has seen (attaching it first when it is not there yet).
    func videoFramesSeen(_ broadcast: Broadcast) -> Int {
        ensureFeed(broadcast)
        return feeds[broadcast.channel]?.subscriber.videoFramesSeen ?? 0
    }

    /// Whether the channel's video has shown a B-frame (a frame whose presentation time is not its decode time).
    func hasBFrames(channel: String) -> Bool {
        feeds[channel]?.subscriber.sawBFrames ?? false
    }

    func deliver(_ delivery: BroadcastDelivery, from subscriber: WebRTCFeed) {
        guard var feed = feeds[subscriber.channel], feed.subscriber === subscriber else { return }
        switch delivery {
        case let .configure(video, audio, clock):
            feed.video = video
            feed.audio = audio
            feed.clock = clock
            feed.gop = []
            feed.gopBytes = 0
            feeds[subscriber.channel] = feed
        case let .frame(frame, _):
            if frame.track == .audio, let audio = feed.audio {
                feed.transcoder?.write(frame, configuration: audio)
                return
            }
            guard frame.track == .video, let video = feed.video else { return }
            if frame.pts != frame.dts, !feed.warnedAboutBFrames {
                feed.warnedAboutBFrames = true
                logger.notice("the stream has B-frames: browsers' WebRTC decoders show few of them; publish with bframes=0 for WebRTC viewers",
                              metadata: ["channel": "\(subscriber.channel)"])
            }
            let sample = Array(frame.data.readableBytesView)
            let units = H264Packetizer.nalUnits(in: sample, lengthSize: video.nalUnitLengthSize)
            let sets = frame.isKeyframe ? video.sequenceParameterSets + video.pictureParameterSets : []
            let unit = Unit(payloads: H264Packetizer.payloads(nalUnits: units, parameterSets: sets, maximumPayload: WHEPSession.maximumPayload),
                            mediaTime: frame.pts, isKeyframe: frame.isKeyframe, bytes: sample.count)
            if frame.isKeyframe {
                feed.gop = [unit]
                feed.gopBytes = unit.bytes
            } else if !feed.gop.isEmpty, feed.gop.count < Self.gopLimits.units, feed.gopBytes + unit.bytes <= Self.gopLimits.bytes {
                feed.gop.append(unit)
                feed.gopBytes += unit.bytes
            } else {
                feed.gop = []
                feed.gopBytes = 0
            }
            feeds[subscriber.channel] = feed
            for id in feed.sessions {
                guard let viewer = sessions[id]?.viewer else { continue }
                send(unit, to: viewer)
            }
            flush()
        case .interrupt:
            return
        case .end:
            for id in feed.sessions { close(id, reason: "the broadcast ended") }
            feed.transcoder?.stop()
            feeds[subscriber.channel]?.transcoder = nil
            flush()
        }
    }

    /// Opus from the channel's transcoder, to each viewer that takes audio.
    func deliverOpus(_ payload: [UInt8], mediaTime: Int64, channel: String) {
        guard let feed = feeds[channel] else { return }
        for id in feed.sessions {
            guard let session = sessions[id]?.viewer, let peer = session.peer,
                  let packet = session.sendAudio(payload, mediaTime: mediaTime) else { continue }
            write(packet, to: peer)
        }
        flush()
    }

    private func stopTranscoderIfUnused(_ channel: String) {
        guard let feed = feeds[channel], let transcoder = feed.transcoder else { return }
        guard !feed.sessions.contains(where: { sessions[$0]?.viewer?.audioSSRC != nil }) else { return }
        transcoder.stop()
        feeds[channel]?.transcoder = nil
    }

    func feedDetached(_ subscriber: WebRTCFeed) {
        guard let feed = feeds[subscriber.channel], feed.subscriber === subscriber else { return }
        for id in feed.sessions { close(id, reason: "the broadcast ended") }
        feeds[subscriber.channel]?.transcoder?.stop()
        feeds[subscriber.channel] = nil
        flush()
    }
}
