import MediaFormats
import NIOCore
import RTMP
import Testing

@Suite("Server session")
struct ServerSessionTests {
    static var connect: [any AMF0ValueConvertible] { [
        "connect", 1,
        AMF0Value.object([("app", .string("live")), ("type", .string("nonprivate")), ("tcUrl", .string("rtmp://localhost/live"))]),
    ] }

    /// The first chunk stream bytes ffmpeg 5.1 sent after the handshake (Tests/MediaFormatsTests/Fixtures/
    /// ffmpeg-rtmp-connect.bin): its connect command, 140 bytes split at the default chunk size of 128.
    static let ffmpegConnect: [UInt8] = [
        0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x8c, 0x14, 0x00, 0x00, 0x00, 0x00,
        0x02, 0x00, 0x07, 0x63, 0x6f, 0x6e, 0x6e, 0x65, 0x63, 0x74, 0x00, 0x3f,
        0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x03, 0x61, 0x70,
        0x70, 0x02, 0x00, 0x04, 0x6c, 0x69, 0x76, 0x65, 0x00, 0x04, 0x74, 0x79,
        0x70, 0x65, 0x02, 0x00, 0x0a, 0x6e, 0x6f, 0x6e, 0x70, 0x72, 0x69, 0x76,
        0x61, 0x74, 0x65, 0x00, 0x08, 0x66, 0x6c, 0x61, 0x73, 0x68, 0x56, 0x65,
        0x72, 0x02, 0x00, 0x24, 0x46, 0x4d, 0x4c, 0x45, 0x2f, 0x33, 0x2e, 0x30,
        0x20, 0x28, 0x63, 0x6f, 0x6d, 0x70, 0x61, 0x74, 0x69, 0x62, 0x6c, 0x65,
        0x3b, 0x20, 0x4c, 0x61, 0x76, 0x66, 0x35, 0x39, 0x2e, 0x32, 0x37, 0x2e,
        0x31, 0x30, 0x30, 0x29, 0x00, 0x05, 0x74, 0x63, 0x55, 0x72, 0x6c, 0x02,
        0x00, 0x1b, 0x72, 0x74, 0x6d, 0x70, 0x3a, 0x2f, 0x2f, 0x31, 0x32, 0x37,
        0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x3a, 0x31, 0xc3, 0x39, 0x33, 0x35,
        0x30, 0x2f, 0x6c, 0x69, 0x76, 0x65, 0x00, 0x00, 0x09,
    ]

    /// Checks the answer to connect: window, bandwidth, chunk size, then `_result` with NetConnection.Connect.Success.
    static func expectConnectAnswer(_ actions: [ServerSession.Action], transaction: Double) {
        #expect(actions.count == 5)
        guard actions.count == 5 else { return }
        let window = actions[0].sent
        #expect(window?.typeID == .windowAcknowledgementSize)
        #expect(window?.controlValue == ServerSession.windowAcknowledgementSize)
        let bandwidth = actions[1].sent
        #expect(bandwidth?.typeID == .setPeerBandwidth)
        #expect(bandwidth?.payload.bytes.count == 5)
        #expect(bandwidth?.payload.bytes.last == 2, "limit type dynamic")
        let chunkSize = actions[2].sent
        #expect(chunkSize?.typeID == .setChunkSize)
        #expect(chunkSize?.controlValue == UInt32(ServerSession.outgoingChunkSize))
        #expect(chunkSize?.chunkStreamID == ChunkStreamID.control)
        if case let .useOutgoingChunkSize(size) = actions[3] {
            #expect(size == ServerSession.outgoingChunkSize)
        } else {
            Issue.record("expected useOutgoingChunkSize after the Set Chunk Size message, got \(actions[3])")
        }
        let result = actions[4].sent
        #expect(result?.typeID == .commandAMF0)
        let values = result?.amf0 ?? []
        #expect(values.first == .string("_result"))
        #expect(values.count == 4)
        guard values.count == 4 else { return }
        #expect(values[1] == .number(transaction))
        #expect(values[2]["fmsVer"]?.stringValue != nil)
        #expect(values[3]["level"] == .string("status"))
        #expect(values[3]["code"] == .string("NetConnection.Connect.Success"))
    }

    // MARK: Connecting and publishing

    @Test("connect is answered with the window size, peer bandwidth, chunk size and NetConnection.Connect.Success")
    func connect() throws {
        var harness = SessionHarness()
        let actions = try harness.command(Self.connect)
        Self.expectConnectAnswer(actions, transaction: 1)
        #expect(harness.session.state == .connected(app: "live"))
    }

    @Test("the connect command ffmpeg really sent, read from the chunk stream, is accepted")
    func ffmpegConnect() throws {
        var harness = SessionHarness()
        var buffer = ByteBuffer(bytes: Self.ffmpegConnect)
        let (messages, actions) = try harness.feed(&buffer)
        #expect(messages.count == 1)
        #expect(buffer.readableBytes == 0)
        Self.expectConnectAnswer(actions, transaction: 1)
        #expect(harness.session.state == .connected(app: "live"))
    }

    @Test("the app name is the first path component of connect's app", arguments: [
        ("live", "live"), ("live/", "live"), ("live/extra", "live"), ("", ""),
    ])
    func appName(app: String, expected: String) throws {
        var harness = SessionHarness()
        _ = try harness.command(["connect", 1, AMF0Value.object([("app", .string(app))])])
        #expect(harness.session.state == .connected(app: expected))
    }

    @Test("releaseStream and FCPublish get a _result; createStream returns stream id 1, then 2")
    func preparatoryCommands() throws {
        var harness = SessionHarness()
        _ = try harness.command(Self.connect)
        for (name, transaction) in [("releaseStream", 2), ("FCPublish", 3)] {
            let actions = try harness.command([name, transaction, AMF0Value.null, "key"])
            let values = actions.first?.sent?.amf0 ?? []
            #expect(actions.count == 1)
            #expect(values.prefix(2) == [.string("_result"), .number(Double(transaction))], "answer to \(name)")
        }
        let first = try harness.command(["createStream", 4, AMF0Value.null]).first?.sent?.amf0
        #expect(first == [.string("_result"), .number(4), .null, .number(1)])
        let second = try harness.command(["createStream", 5, AMF0Value.null]).first?.sent?.amf0
        #expect(second?.last == .number(2))
    }

    @Test("publish asks for the stream key, without the query string encoders append")
    func publishAsksForAuthorization() throws {
        var harness = SessionHarness()
        _ = try harness.command(Self.connect)
        _ = try harness.command(["createStream", 2, AMF0Value.null])
        let actions = try harness.command(["publish", 3, AMF0Value.null, "key?x=y", "live"], streamID: 1)
        #expect(actions.count == 1)
        guard case let .authorize(app, streamKey)? = actions.first else {
            Issue.record("expected .authorize, got \(actions)")
            return
        }
        #expect(app == "live")
        #expect(streamKey == "key")
        #expect(harness.session.state == .authorizing(app: "live", streamID: 1))
    }

    @Test("an accepted key gets Stream Begin and NetStream.Publish.Start on the publishing stream")
    func publishAuthorized() throws {
        var harness = SessionHarness()
        _ = try harness.command(Self.connect)
        _ = try harness.command(["createStream", 2, AMF0Value.null])
        _ = try harness.command(["publish", 3, AMF0Value.null, "key", "live"], streamID: 1)
        let actions = harness.session.publishAuthorized()
        #expect(actions.count == 2)
        let streamBegin = actions.first?.sent?.userControl
        #expect(streamBegin?.event == UserControlEvent.streamBegin.rawValue)
        #expect(streamBegin?.value == 1)
        let status = actions.last?.sent
        #expect(status?.messageStreamID == 1)
        let values = status?.amf0 ?? []
        #expect(values.first == .string("onStatus"))
        #expect(values.last?["level"] == .string("status"))
        #expect(values.last?["code"] == .string("NetStream.Publish.Start"))
        #expect(harness.session.state == .publishing(app: "live", streamID: 1))
    }

    @Test("a refused key gets an error onStatus with the given code, then the connection closes")
    func publishRefused() throws {
        var harness = SessionHarness()
        _ = try harness.command(Self.connect)
        _ = try harness.command(["publish", 3, AMF0Value.null, "wrong", "live"], streamID: 1)
        let actions = harness.session.publishRefused(code: "NetStream.Publish.BadName", description: "Unknown stream key.")
        #expect(actions.count == 2)
        let values = actions.first?.sent?.amf0 ?? []
        #expect(values.first == .string("onStatus"))
        #expect(values.last?["level"] == .string("error"))
        #expect(values.last?["code"] == .string("NetStream.Publish.BadName"))
        #expect(actions.last?.isClose == true)
        #expect(harness.session.state == .closed)
    }

    @Test("FCUnpublish while publishing reports that the publisher stopped")
    func unpublish() throws {
        var harness = SessionHarness()
        try harness.startPublishing()
        let actions = try harness.command(["FCUnpublish", 5, AMF0Value.null, "key"])
        guard case .unpublished? = actions.first else {
            Issue.record("expected .unpublished, got \(actions)")
            return
        }
        #expect(harness.session.state == .connected(app: "live"))
        #expect(try harness.command(["deleteStream", 6, AMF0Value.null, 1]).isEmpty, "nothing left to unpublish")
    }

    @Test("play is refused with an error status and the connection closes")
    func play() throws {
        var harness = SessionHarness()
        _ = try harness.command(Self.connect)
        let actions = try harness.command(["play", 4, AMF0Value.null, "key"], streamID: 1)
        #expect(actions.count == 2)
        let values = actions.first?.sent?.amf0 ?? []
        #expect(values.last?["level"] == .string("error"))
        #expect(values.last?["code"] == .string("NetStream.Play.Failed"))
        #expect(actions.last?.isClose == true)
        #expect(harness.session.state == .closed)
    }

    @Test("an AMF3 command message (a format byte, then AMF0) is understood")
    func amf3Command() throws {
        var harness = SessionHarness()
        var payload = ByteBuffer(bytes: [0])
        for value in Self.connect { AMF0.encode(value.amf0, into: &payload) }
        let actions = try harness.receive(RTMPMessage(typeID: .commandAMF3, chunkStreamID: 3, payload: payload))
        Self.expectConnectAnswer(actions, transaction: 1)
    }

    // MARK: Refusals

    @Test("commands before connect are a protocol violation", arguments: ["createStream", "publish", "releaseStream", "play"])
    func beforeConnect(name: String) {
        var harness = SessionHarness()
        #expect(throws: RTMPError.protocolViolation("\(name) before connect")) {
            try harness.command([name, 2, AMF0Value.null, "key"])
        }
    }

    @Test("a second connect, and a publish while already publishing, are protocol violations")
    func outOfOrder() throws {
        var harness = SessionHarness()
        try harness.startPublishing()
        #expect(throws: RTMPError.protocolViolation("second connect")) { try harness.command(Self.connect) }
        #expect(throws: RTMPError.self) { try harness.command(["publish", 9, AMF0Value.null, "key"], streamID: 1) }
    }

    @Test("a publish without a stream name is refused", arguments: [
        [AMF0Value.string("publish"), .number(3), .null],
        [.string("publish"), .number(3), .null, .string("")],
        [.string("publish"), .number(3), .null, .number(5)],
    ])
    func publishWithoutName(values: [AMF0Value]) throws {
        var harness = SessionHarness()
        _ = try harness.command(Self.connect)
        #expect(throws: RTMPError.malformedAMF0("publish without a stream name")) { try harness.command(values, streamID: 1) }
    }

    @Test("malformed AMF0 in a command is refused", arguments: [
        [UInt8](),  // no values at all
        [0x00, 0x3F],  // a number cut short
        [0x02, 0x00, 0x07, 0x63, 0x6F],  // "connect" cut short
        [0x0E],  // an unknown marker
        [0x09],  // an object end out of place
        [0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0],  // a number where the name should be
    ])
    func malformedCommand(bytes: [UInt8]) {
        var harness = SessionHarness()
        let command = RTMPMessage(typeID: .commandAMF0, chunkStreamID: 3, payload: ByteBuffer(bytes: bytes))
        #expect {
            try harness.receive(command)
        } throws: { error in
            if case .malformedAMF0 = error as? RTMPError { return true }
            return false
        }
    }

    @Test("malformed metadata is refused even before publishing")
    func malformedData() {
        var harness = SessionHarness()
        let data = RTMPMessage(typeID: .dataAMF0, chunkStreamID: 5, payload: ByteBuffer(bytes: [0x02, 0x00, 0x10, 0x40]))
        #expect {
            try harness.receive(data)
        } throws: { error in
            if case .malformedAMF0 = error as? RTMPError { return true }
            return false
        }
    }

    @Test("truncated control messages are refused", arguments: [
        RTMPMessage.TypeID.setChunkSize, .abort, .windowAcknowledgementSize, .userControl,
    ])
    func truncatedControl(type: RTMPMessage.TypeID) {
        var harness = SessionHarness()
        let control = RTMPMessage(typeID: type, chunkStreamID: 2, payload: ByteBuffer(bytes: [0]))
        #expect {
            try harness.receive(control)
        } throws: { error in
            if case .malformedMessage = error as? RTMPError { return true }
            return false
        }
    }

    // MARK: Media

    static let avcRecord: [UInt8] = [
        0x01, 0x42, 0xc0, 0x0d, 0xff, 0xe1, 0x00, 0x18, 0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00,
        0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0x00, 0xf1, 0x42, 0xa4, 0x80, 0x01, 0x00, 0x05, 0x68, 0xcb, 0x83,
        0xcb, 0x20,
    ]
    static let aacConfig: [UInt8] = [0x11, 0x90]

    static func nalUnits(_ seed: UInt8) -> ByteBuffer {
        ByteBuffer(bytes: [0, 0, 0, 3, 0x65, seed, seed])
    }

    @Test("audio, video and metadata before publishing are ignored")
    func mediaBeforePublishing() throws {
        var harness = SessionHarness()
        _ = try harness.command(Self.connect)
        #expect(try harness.video(.avcSequenceHeader(Self.avcRecord), timestamp: 0).isEmpty)
        #expect(try harness.video(.avcNALUnits(isKeyframe: true, compositionTime: 0, data: Self.nalUnits(1)), timestamp: 0).isEmpty)
        #expect(try harness.audio(.aacFrame(ByteBuffer(bytes: [1, 2])), timestamp: 0).isEmpty)
        let metadata = RTMPMessage.command(["@setDataFrame", "onMetaData", AMF0Value.ecmaArray([("width", .number(640))])])
        #expect(try harness.receive(RTMPMessage(typeID: .dataAMF0, chunkStreamID: 5, payload: metadata.payload)).isEmpty)
    }

    @Test("sequence headers become codec configurations")
    func codecs() throws {
        var harness = SessionHarness()
        try harness.startPublishing()
        let video = try harness.video(.avcSequenceHeader(Self.avcRecord), timestamp: 0)
        let audio = try harness.audio(.aacSequenceHeader(Self.aacConfig), timestamp: 0)
        guard case let .media(.codec(videoCodec))? = video.first, case let .media(.codec(audioCodec))? = audio.first else {
            Issue.record("expected codec events, got \(video) and \(audio)")
            return
        }
        #expect(videoCodec == .avc(Self.avcRecord))
        #expect(audioCodec == .aac(Self.aacConfig))
    }

    @Test("video frames carry 90 kHz decode times and presentation times with the composition offset")
    func videoFrames() throws {
        var harness = SessionHarness()
        try harness.startPublishing()
        let sent: [(timestamp: UInt32, composition: Int32, keyframe: Bool)] = [
            (0, 66, true), (33, 133, false), (67, 0, false), (100, 33, false), (133, -33, false),
        ]
        var frames: [MediaFrame] = []
        for (index, frame) in sent.enumerated() {
            let body = FLVTagBody.avcNALUnits(isKeyframe: frame.keyframe, compositionTime: frame.composition, data: Self.nalUnits(UInt8(index)))
            frames += try harness.video(body, timestamp: frame.timestamp).compactMap(\.frame)
        }
        #expect(frames.map(\.dts) == sent.map { Int64($0.timestamp) * 90 })
        #expect(frames.map(\.pts) == sent.map { (Int64($0.timestamp) + Int64($0.composition)) * 90 })
        #expect(frames.map(\.isKeyframe) == sent.map(\.keyframe))
        #expect(frames.allSatisfy { $0.track == .video })
        #expect(frames.map(\.data.bytes) == sent.indices.map { Self.nalUnits(UInt8($0)).bytes })
    }

    @Test("AAC frames carry 90 kHz timestamps and their raw bytes")
    func audioFrames() throws {
        var harness = SessionHarness()
        try harness.startPublishing()
        var frames: [MediaFrame] = []
        for timestamp: UInt32 in [0, 21, 43, 64] {
            frames += try harness.audio(.aacFrame(ByteBuffer(bytes: [0x21, UInt8(timestamp)])), timestamp: timestamp).compactMap(\.frame)
        }
        let expected: [Int64] = [0, 21 * 90, 43 * 90, 64 * 90]
        #expect(frames.map(\.dts) == expected)
        #expect(frames.map(\.pts) == frames.map(\.dts))
        #expect(frames.allSatisfy { $0.track == .audio && $0.isKeyframe })
        #expect(frames.map(\.data.bytes) == [[0x21, 0], [0x21, 21], [0x21, 43], [0x21, 64]])
    }

    @Test("timestamps that wrap past 2^32 ms keep increasing")
    func timestampWrap() throws {
        var harness = SessionHarness()
        try harness.startPublishing()
        let timestamps: [UInt32] = [0xFFFF_FF00, 0xFFFF_FFF0, 0x0000_0010, 0x0000_0100]
        var videoDTS: [Int64] = []
        var audioDTS: [Int64] = []
        for timestamp in timestamps {
            let body = FLVTagBody.avcNALUnits(isKeyframe: false, compositionTime: 0, data: Self.nalUnits(0))
            videoDTS += try harness.video(body, timestamp: timestamp).compactMap(\.frame).map(\.dts)
            audioDTS += try harness.audio(.aacFrame(ByteBuffer(bytes: [1])), timestamp: timestamp).compactMap(\.frame).map(\.dts)
        }
        let expected: [Int64] = [0xFFFF_FF00, 0xFFFF_FFF0, 0x1_0000_0010, 0x1_0000_0100].map { $0 * 90 }
        #expect(videoDTS == expected)
        #expect(audioDTS == expected)
    }

    @Test("@setDataFrame onMetaData becomes a metadata event with its properties in order", arguments: [true, false])
    func metadata(withSetDataFrame: Bool) throws {
        var harness = SessionHarness()
        try harness.startPublishing()
        let properties: [(String, AMF0Value)] = [("width", .number(640)), ("height", .number(360)), ("encoder", .string("Lavf"))]
        var payload = ByteBuffer()
        if withSetDataFrame { AMF0.encode(.string("@setDataFrame"), into: &payload) }
        AMF0.encode([.string("onMetaData"), .ecmaArray(properties)], into: &payload)
        let actions = try harness.receive(RTMPMessage(typeID: .dataAMF0, messageStreamID: 1, chunkStreamID: 5, payload: payload))
        guard case let .media(.metadata(received))? = actions.first else {
            Issue.record("expected a metadata event, got \(actions)")
            return
        }
        #expect(AMF0Value.ecmaArray(received) == .ecmaArray(properties))
    }

    @Test("video and audio in formats we do not carry are ignored")
    func unsupportedCodecs() throws {
        var harness = SessionHarness()
        try harness.startPublishing()
        // VP6 video (codec id 4) and MP3 audio (sound format 2).
        let vp6 = RTMPMessage(typeID: .video, messageStreamID: 1, chunkStreamID: 6, payload: ByteBuffer(bytes: [0x14, 0, 0]))
        let mp3 = RTMPMessage(typeID: .audio, messageStreamID: 1, chunkStreamID: 4, payload: ByteBuffer(bytes: [0x2F, 0xFF]))
        #expect(try harness.receive(vp6).isEmpty)
        #expect(try harness.receive(mp3).isEmpty)
    }

    // MARK: Control

    @Test("a ping request is answered with a ping response carrying the same timestamp")
    func ping() throws {
        var harness = SessionHarness()
        var payload = ByteBuffer()
        payload.writeInteger(UserControlEvent.pingRequest.rawValue)
        payload.writeInteger(UInt32(123_456))
        let actions = try harness.receive(RTMPMessage(typeID: .userControl, chunkStreamID: 2, payload: payload))
        let response = actions.first?.sent?.userControl
        #expect(response?.event == UserControlEvent.pingResponse.rawValue)
        #expect(response?.value == 123_456)
    }

    @Test("an Acknowledgement is sent each time the peer's window of bytes has been received")
    func acknowledgements() throws {
        var harness = SessionHarness()
        #expect(harness.session.received(bytes: 5000) == nil, "no window announced yet")
        var payload = ByteBuffer()
        payload.writeInteger(UInt32(1000))
        _ = try harness.receive(RTMPMessage(typeID: .windowAcknowledgementSize, chunkStreamID: 2, payload: payload))

        var acknowledged: [UInt32] = []
        for _ in 0..<10 {
            if let ack = harness.session.received(bytes: 300) {
                #expect(ack.typeID == .acknowledgement)
                acknowledged.append(ack.controlValue ?? 0)
            }
        }
        // 5000 before the window, then 300 at a time: acknowledged at 5300 (over a full window since nothing was
        // acknowledged yet), 6500, and 7700.
        #expect(acknowledged == [5300, 6500, 7700])
    }
}
