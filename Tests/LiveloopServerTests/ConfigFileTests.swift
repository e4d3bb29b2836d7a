import Foundation
import LiveloopServer
import NIOCore
import NIOPosix
import Testing

/// `liveloop serve --config FILE`: the real binary, started with a TOML file.
@Suite("configuration file", .serialized)
struct ConfigFileTests {
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/liveloop").path
    static var haveBinary: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    /// A port nobody listens on now (bound and released).
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }

    func write(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "liveloop-config-" + UUID().uuidString + ".toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("the server takes its ports, data directory and limits from the file; the environment and the command line win over it",
          .enabled(if: haveBinary))
    func fileSetsOptions() async throws {
        let (http, rtmp, other) = (try await Self.freePort(), try await Self.freePort(), try await Self.freePort())
        let data = NSTemporaryDirectory() + "liveloop-config-data-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: data) }
        let path = try write("""
        # Liveloop
        host = "127.0.0.1"
        http-port = \(other)
        rtmp_port = \(rtmp)
        data = "\(data)"
        max-connections-per-address = 3
        log-level = "warning"
        """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["serve", "--config", path]
        process.environment = ProcessInfo.processInfo.environment.merging(["LIVELOOP_HTTP_PORT": "\(http)"]) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try ProcessLaunch.run(process)
        defer { process.terminate() }
        let up = await eventually(timeout: .seconds(20)) {
            (try? await HTTPProbe.status(port: http, path: "/healthz")) == 200
        }
        #expect(up, "the environment's HTTP port wins over the file's")
        #expect(FileManager.default.fileExists(atPath: data + "/liveloop.sqlite"), "the file's data directory is used")
        // The file's per-address cap of 3 holds: a fourth connection from this address is refused.
        let crowd = try await TCPCrowd.connect(count: 4, from: "127.0.0.1", to: http)
        #expect(await eventually(timeout: .seconds(5)) { crowd.count(status: 429) == 1 })
        await crowd.close()
    }

    @Test("a key that is not an option, or a file that is not TOML, stops the server at once with a clear message",
          .enabled(if: haveBinary), arguments: [
              ("htp-port = 8080\n", "\"htp-port\" is not an option"),
              ("http-port = [1\n", "is not valid TOML"),
              ("demo = \"yes\"\n", "must be a string, a number or true/false"),
          ])
    func badFile(_ text: String, _ message: String) async throws {
        let path = try write(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (status, _, errors) = try await Tools.output(Self.binary, ["serve", "--config", path])
        #expect(status == 64)
        #expect(errors.contains(message), "stderr: \(errors)")
    }

    @Test("an HTTP or RTMP port another process holds stops the server at once, naming the port and the option (it used to hang)",
          .enabled(if: haveBinary), arguments: ["--http-port", "--rtmp-port"])
    func portTaken(_ option: String) async throws {
        let holder = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "0.0.0.0", port: 0).get()
        defer { holder.close(promise: nil) }
        let taken = try #require(holder.localAddress?.port)
        let data = NSTemporaryDirectory() + "liveloop-port-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: data) }
        var arguments = ["serve", "--data", data, "--srt-port", "0", "--webrtc-port", "0"]
        for other in ["--http-port", "--rtmp-port"] { arguments += [other, other == option ? "\(taken)" : "\(try await Self.freePort())"] }
        let started = ContinuousClock.now
        let (status, _, errors) = try await Tools.output(Self.binary, arguments)
        #expect(status == 75)
        #expect(errors.contains("port \(taken) is already in use") && errors.contains(option), "stderr: \(errors)")
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}

/// One plain GET on a fresh connection, for a server in another process.
enum HTTPProbe {
    static func status(port: Int, path: String) async throws -> Int? {
        let crowd = try await TCPCrowd.connect(count: 1, from: "127.0.0.1", to: port,
                                               sending: Array("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        defer { Task { await crowd.close() } }
        _ = await eventually(timeout: .seconds(2)) { crowd.snapshot.first?.statusCode != nil }
        return crowd.snapshot.first?.statusCode
    }
}
