import Logging
import MediaFormats
import NIOCore
import NIOPosix
@testable import RTMP
import Synchronization
import Testing

/// Collects what the server side hands to the rest of the server.
private final class CollectingSink: RTMPPublishSink {
    let events = Mutex<[RTMPMediaEvent]>([])
    let disconnected = Mutex(false)

    func handle(_ event: RTMPMediaEvent) { events.withLock { $0.append(event) } }
    func publisherDisconnected() { disconnected.withLock { $0 = true } }
}

/// Accepts one key, refuses every other one as the real server does.
private struct KeyAuthorizer: RTMPPublishAuthorizer {
    let key: String
    let sink: CollectingSink

    func authorize(app: String, streamKey: String, remoteAddress: String) async -> RTMPPublishDecision {
        guard app == "live", streamKey == key else { return .refuse(code: "NetStream.Publish.BadName", description: "Unknown stream key.") }
        return .accept(sink)
    }
}

/// The RTMP listener of the server, bound on a free port, with a sink to read what it received.
private struct Listener {
    let channel: any Channel
    let received: CollectingSink
    var port: Int { channel.localAddress?.port ?? 0 }

    static func start(key: String = "secret") async throws -> Listener {
        let sink = CollectingSink()
        var logger = Logger(label: "rtmp-test")
        logger.logLevel = .critical
        let channel = try await RTMPListener.bind(
            host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton,
            authorizer: KeyAuthorizer(key: key, sink: sink), connections: RTMPConnectionSet(), logger: logger
        )
        return Listener(channel: channel, received: sink)
    }
}

private func eventually(_ condition: () -> Bool) async -> Bool {
    for _ in 0..<200 {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

private func bytes(_ count: Int, _ seed: UInt8) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger(UInt32(count - 4))
    for i in 0..<(count - 4) { buffer.writeInteger(seed &+ UInt8(truncatingIfNeeded: i)) }
    return buffer
}

@Suite("RTMPPublisher: the push client against the server's RTMP listener")
struct RTMPPublisherTests {
    @Test("frames arrive at the server with the timestamps, composition offsets, flags and bytes they were sent with")
    func roundTrip() async throws {
        let listener = try await Listener.start()
        let publisher = try await RTMPPublisher.connect(url: "rtmp://127.0.0.1:\(listener.port)/live/secret")
        #expect(publisher.streamID == 1)

        let avcC: [UInt8] = [1, 0x64, 0, 0x1E, 0xFF, 0xE1, 0, 4, 0x67, 0x64, 0, 0x1E, 1, 0, 4, 0x68, 0xEE, 0x3C, 0x80]
        let asc: [UInt8] = [0x11, 0x90]
        var sent: [MediaFrame] = []
        // A keyframe bigger than a few chunks, then B-frame style offsets, interleaved with audio; past the 24-bit
        // timestamp limit too, so the extended timestamp is exercised. RTMP carries whole milliseconds: 33 ms = 2970.
        let base: Int64 = 0xFF_FFF0 * 90
        for i in 0..<12 {
            let dts = base + Int64(i) * 2970
            sent.append(MediaFrame(track: .video, pts: dts + Int64(i % 3) * 2970, dts: dts, isKeyframe: i % 6 == 0,
                                   data: bytes(i == 0 ? 20_000 : 500 + i, UInt8(i))))
            sent.append(MediaFrame(track: .audio, pts: dts + 900, dts: dts + 900, isKeyframe: true, data: bytes(200, UInt8(100 + i))))
        }
        try await publisher.send(.metadata([("width", .number(640)), ("height", .number(360))]))
        try await publisher.send(.codec(.avc(avcC)))
        try await publisher.send(.codec(.aac(asc)))
        var lastWrite = ContinuousClock.now - .seconds(1)
        for frame in sent {
            let written = try await publisher.send(.frame(frame))
            #expect(written >= lastWrite)
            lastWrite = written
        }

        let sink = listener.received
        #expect(await eventually { sink.events.withLock { $0.count } == 3 + sent.count })
        let events = sink.events.withLock { $0 }
        guard events.count == 3 + sent.count else { return }
        if case let .metadata(properties) = events[0] {
            #expect(properties.map(\.0) == ["width", "height"])
        } else {
            Issue.record("expected metadata first, got \(events[0])")
        }
        if case .codec(.avc(let record)) = events[1] { #expect(record == avcC) } else { Issue.record("expected avcC") }
        if case .codec(.aac(let config)) = events[2] { #expect(config == asc) } else { Issue.record("expected ASC") }
        for (event, expected) in zip(events.dropFirst(3), sent) {
            guard case let .frame(frame) = event else { Issue.record("expected a frame, got \(event)"); continue }
            #expect(frame.track == expected.track)
            #expect(frame.dts == expected.dts)
            #expect(frame.pts == expected.pts)
            #expect(frame.isKeyframe == expected.isKeyframe)
            #expect(frame.data == expected.data)
        }

        await publisher.close()
        #expect(await eventually { sink.disconnected.withLock { $0 } })
        try await listener.channel.close()
    }

    @Test("a wrong stream key is refused with the server's onStatus code")
    func wrongKey() async throws {
        let listener = try await Listener.start()
        await #expect(throws: RTMPPublisherError.publishRefused(code: "NetStream.Publish.BadName", description: "Unknown stream key.")) {
            _ = try await RTMPPublisher.connect(host: "127.0.0.1", port: listener.port, app: "live", streamKey: "wrong")
        }
        try await listener.channel.close()
    }

    @Test("a server that never answers times out instead of hanging")
    func timeout() async throws {
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = silent.localAddress?.port ?? 0
        await #expect(throws: RTMPPublisherError.timedOut) {
            _ = try await RTMPPublisher.connect(host: "127.0.0.1", port: port, app: "live", streamKey: "k", timeout: .milliseconds(300))
        }
        try await silent.close()
    }

    @Test("RTMP URLs", arguments: [
        ("rtmp://example.com/live/abc", RTMPPublisher.Target(host: "example.com", port: 1935, app: "live", key: "abc")),
        ("rtmp://127.0.0.1:19350/live/a/b?x=1", RTMPPublisher.Target(host: "127.0.0.1", port: 19350, app: "live", key: "a/b?x=1")),
        ("http://example.com/live/abc", nil),
        ("rtmp://example.com/live", nil),
        ("rtmp://example.com:0/live/k", nil),
        ("rtmp://:1935/live/k", nil),
    ] as [(String, RTMPPublisher.Target?)])
    func urls(url: String, expected: RTMPPublisher.Target?) {
        #expect(RTMPPublisher.Target(url: url) == expected)
    }
}

@Suite("ClientSession: the push client's command exchange, without sockets")
struct ClientSessionTests {
    static func command(_ values: [AMF0Value], streamID: UInt32 = 0) -> RTMPMessage {
        RTMPMessage.command(values, streamID: streamID)
    }

    static func names(_ actions: [ClientSession.Action]) -> [String] {
        actions.compactMap { action in
            guard case var .send(message) = action, message.typeID == .commandAMF0,
                  let values = try? AMF0.decodeAll(&message.payload) else { return nil }
            return values.first?.stringValue
        }
    }

    @Test("connect → releaseStream/FCPublish/createStream → publish → Publish.Start, then chunk size 4096")
    func happyPath() throws {
        var session = ClientSession(app: "live", streamKey: "key", tcURL: "rtmp://h:1935/live")
        var decoder = ChunkDecoder()
        #expect(Self.names(session.start()) == ["connect"])
        #expect(session.state == .connecting)

        var actions = try session.receive(.control(.windowAcknowledgementSize, 2_500_000), decoder: &decoder)
        #expect(actions.isEmpty)
        actions = try session.receive(Self.command([.string("_result"), .number(1), .null, .object([("code", .string("NetConnection.Connect.Success"))])]), decoder: &decoder)
        #expect(Self.names(actions) == ["releaseStream", "FCPublish", "createStream"])

        actions = try session.receive(Self.command([.string("_result"), .number(4), .null, .number(3)]), decoder: &decoder)
        #expect(Self.names(actions) == ["publish"])
        #expect(session.state == .awaitingPublishStart(streamID: 3))
        if case let .send(message) = actions.first { #expect(message.messageStreamID == 3) }

        actions = try session.receive(Self.command([.string("onStatus"), .number(0), .null,
                                                    .object([("level", .string("status")), ("code", .string("NetStream.Publish.Start"))])], streamID: 3), decoder: &decoder)
        #expect(session.state == .publishing(streamID: 3))
        guard actions.count == 3, case let .send(setChunk) = actions[0], case .useOutgoingChunkSize(4096) = actions[1],
              case .publishStarted(streamID: 3) = actions[2]
        else { Issue.record("unexpected actions \(actions)"); return }
        #expect(setChunk.typeID == .setChunkSize)
        #expect(setChunk.payload.getInteger(at: setChunk.payload.readerIndex, as: UInt32.self) == 4096)
    }

    @Test("a ping request is answered with a ping response carrying the same stamp")
    func ping() throws {
        var session = ClientSession(app: "live", streamKey: "key", tcURL: "rtmp://h/live")
        var decoder = ChunkDecoder()
        _ = session.start()
        let actions = try session.receive(.userControl(.pingRequest, 1234), decoder: &decoder)
        guard case let .send(message) = actions.first else { Issue.record("no answer"); return }
        #expect(message.typeID == .userControl)
        #expect(message.payload.getInteger(at: message.payload.readerIndex, as: UInt16.self) == UserControlEvent.pingResponse.rawValue)
        #expect(message.payload.getInteger(at: message.payload.readerIndex + 2, as: UInt32.self) == 1234)
    }

    @Test("an error status after publish fails the session with the server's code")
    func refused() throws {
        var session = ClientSession(app: "live", streamKey: "key", tcURL: "rtmp://h/live")
        var decoder = ChunkDecoder()
        _ = session.start()
        _ = try session.receive(Self.command([.string("_result"), .number(1), .null, .null]), decoder: &decoder)
        _ = try session.receive(Self.command([.string("_result"), .number(4), .null, .number(1)]), decoder: &decoder)
        let actions = try session.receive(Self.command([.string("onStatus"), .number(0), .null,
                                                        .object([("level", .string("error")), ("code", .string("NetStream.Publish.Denied")),
                                                                 ("description", .string("busy"))])], streamID: 1), decoder: &decoder)
        guard case let .fail(error) = actions.first else { Issue.record("expected failure"); return }
        #expect(error == .publishRefused(code: "NetStream.Publish.Denied", description: "busy"))
        #expect(session.state == .failed)
    }
}
