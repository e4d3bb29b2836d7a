import NIOCore
import NIOPosix

/// A raw TCP client for feeding bad bytes to the RTMP port.
enum RawTCP {
    /// Connects, sends `chunks` one after another, and reports whether the server closed the connection within `timeout`.
    static func sendAndAwaitClose(port: Int, _ chunks: [[UInt8]], timeout: Duration = .seconds(5)) async throws -> Bool {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            for chunk in chunks {
                try? await outbound.write(ByteBuffer(bytes: chunk))
            }
            return await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    do {
                        for try await _ in inbound {}
                    } catch {}
                    return true
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
        }
    }
}

/// Bytes of a valid RTMP client conversation, to build bad ones from.
enum RTMPBytes {
    /// C0 + C1 + C2 (the server does not check C2's content).
    static var handshake: [UInt8] {
        [3] + [UInt8](repeating: 0, count: 1536) + [UInt8](repeating: 7, count: 1536)
    }

    /// A type-0 chunk header on chunk stream 3.
    static func header(length: Int, type: UInt8, csid: UInt8 = 3, stream: UInt32 = 0) -> [UInt8] {
        [csid, 0, 0, 0, UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type,
         UInt8(stream & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 24)]
    }

    /// An AMF0 `connect` command, valid.
    static var connect: [UInt8] {
        var body: [UInt8] = [0x02, 0, 7] + Array("connect".utf8) + [0x00] + [0x3F, 0xF0, 0, 0, 0, 0, 0, 0]
        body += [0x03, 0, 3] + Array("app".utf8) + [0x02, 0, 4] + Array("live".utf8) + [0, 0, 9]
        return header(length: body.count, type: 20) + body
    }
}
