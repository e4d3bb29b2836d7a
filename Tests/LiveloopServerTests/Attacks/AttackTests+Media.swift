import Foundation
import LiveloopClient
import LiveloopServer
import Logging
import NIOCore
import NIOPosix
import RTMP
import Synchronization
import Testing

/// Log lines as a stream handler would write them, kept for a test to read.
final class LogCapture: Sendable {
    let lines = Mutex<[String]>([])

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
            let rendered = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            capture.lines.withLock { $0.append("\(event.level) test: \(rendered) \(event.message)") }
        }
    }

    var logger: Logger {
        var logger = Logger(label: "test") { _ in EscapingLogHandler(wrapping: Handler(capture: self)) }
        logger.logLevel = .info
        return logger
    }
}

/// One raw client from a chosen loopback address.
private func rawClient(port: Int, from source: String) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
    try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(to: try SocketAddress(ipAddress: source, port: 0))
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
}

extension AttackTests {
    @Test("1,000 idle or trickling RTMP sockets from one address: past its cap each is closed at once, the rest at the setup deadline, and /healthz, a publish and a viewer still work")
    func rtmpSocketFlood() async throws {
        guard Tools.haveFFmpeg else { return }
        let server = try await TestServer.start(rtmp: RTMPConnectionLimits(setupTimeout: .seconds(3)))
        let bystanders = try await Bystanders.start(on: server)
        var clients: [NIOAsyncChannel<ByteBuffer, ByteBuffer>] = []
        for i in 0..<1000 {
            guard let client = try? await rawClient(port: server.rtmpPort, from: "127.0.0.2") else { continue }
            if i % 2 == 0 { try? await client.channel.writeAndFlush(ByteBuffer(bytes: [3, 0, 0])) }
            clients.append(client)
        }
        #expect(clients.count > 900)
        #expect(try await server.get("/healthz").status == 200)
        try await bystanders.expectUnaffected("during the flood")
        // Let the setup deadline pass: every held socket is closed by the server.
        try await Task.sleep(for: .seconds(4))
        var open = 0
        for client in clients where client.channel.isActive { open += 1 }
        #expect(open == 0, "\(open) flood sockets still open after the setup deadline")
        for client in clients { try? await client.channel.close() }
        try await bystanders.expectUnaffected("after the flood")
        await bystanders.stop()
        await server.stop()
    }

    @Test("200 keyless RTMP connections announcing 8 MiB messages are refused at their first chunk, and server RSS grows by less than 64 MiB")
    func rtmpMemoryBeforeKey() async throws {
        guard Tools.haveFFmpeg else { return }
        let server = try await TestServer.start(rtmp: RTMPConnectionLimits(maximumConnectionsPerAddress: 1000))
        let bystanders = try await Bystanders.start(on: server)
        // The attackers' bytes are built once and shared, so what grows is the server's memory, not the clients'.
        let huge: [[UInt8]] = [RTMPBytes.handshake, RTMPBytes.connect, RTMPBytes.header(length: 8 << 20, type: 9, csid: 6)]
            + Array(repeating: [UInt8](repeating: 0x41, count: 64 << 10), count: 2)
        let media: [[UInt8]] = [RTMPBytes.handshake, RTMPBytes.connect]
            + Array(repeating: RTMPBytes.header(length: 4000, type: 9, csid: 6) + [UInt8](repeating: 0x17, count: 4000), count: 64)
            + [RTMPBytes.header(length: 6000, type: 9, csid: 7) + [UInt8](repeating: 0x17, count: 100)]
        let before = Self.residentBytes()
        var closed = 0
        await withTaskGroup(of: Bool.self) { group in
            for i in 0..<200 {
                group.addTask {
                    // Half announce one huge message and stream 128 KiB of it (more would only measure the clients, which run in
                    // this process too); half send media before any publish.
                    let chunks = i % 2 == 0 ? huge : media
                    return (try? await RawTCP.sendAndAwaitClose(port: server.rtmpPort, chunks, timeout: .seconds(15))) ?? false
                }
            }
            for await wasClosed in group where wasClosed { closed += 1 }
        }
        let grown = Self.residentBytes() - before
        #expect(closed >= 100, "the 100 connections announcing 8 MiB were closed")
        #expect(grown < 64 << 20, "RSS grew by \(grown >> 20) MiB under 200 keyless connections")
        try await bystanders.expectUnaffected()
        await bystanders.stop()
        await server.stop()
    }

    @Test("50 concurrent thumbnail requests start one ffmpeg, and the next ones are served from the cache")
    func thumbnailAmplification() async throws {
        guard Tools.haveFFmpeg else { return }
        let server = try await TestServer.start()
        let bystanders = try await Bystanders.start(on: server)
        let path = "/live/\(Bystanders.channel)/thumbnail.jpg"
        let statuses = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<50 { group.addTask { Int((try? await server.get(path))?.status ?? 0) } }
            var all: [Int] = []
            for await status in group { all.append(status) }
            return all
        }
        #expect(statuses.allSatisfy { $0 == 200 }, "every request got the picture: \(statuses)")
        #expect(server.server.thumbnailRuns == 1, "one ffmpeg for 50 requests, not \(server.server.thumbnailRuns)")
        #expect(try await server.get(path).status == 200)
        #expect(server.server.thumbnailRuns == 1)
        try await bystanders.expectUnaffected()
        await bystanders.stop()
        await server.stop()
    }

    @Test("an RTMP command name with a newline stays on one log line")
    func logForging() async throws {
        guard Tools.haveFFmpeg else { return }
        let capture = LogCapture()
        let server = try await TestServer.start(logger: capture.logger)
        let bystanders = try await Bystanders.start(on: server)
        let name = Array("x\nFAKE liveloop: publish started channel=admin".utf8)
        let body: [UInt8] = [0x02, 0, UInt8(name.count)] + name + [0x00] + [0x3F, 0xF0, 0, 0, 0, 0, 0, 0]
        let closed = try await RawTCP.sendAndAwaitClose(port: server.rtmpPort, [RTMPBytes.handshake, RTMPBytes.header(length: body.count, type: 20) + body])
        #expect(closed, "a command before connect closes the connection")
        let lines = capture.lines.withLock { $0 }
        #expect(lines.contains { $0.contains("x\\nFAKE liveloop") }, "the command name is logged, escaped")
        #expect(!lines.contains { $0.contains("\n") }, "no log line holds a newline")
        try await bystanders.expectUnaffected()
        await bystanders.stop()
        await server.stop()
    }
}
