import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import Logging
import Storage
import NIOHTTP1
import Testing

/// `--log-format json`: one JSON object a line, client text unable to forge a line, no secret in any line.
@Suite("JSON logs", .serialized)
struct JSONLogTests {
    static func object(_ line: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }

    static let rfc3339Milliseconds = try? NSRegularExpression(pattern: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#)

    static func isTimestamp(_ text: String?) -> Bool {
        guard let text, let regex = rfc3339Milliseconds else { return false }
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    @Test("a line holds the message and metadata exactly, whatever characters they carry, and ends at its one newline",
          arguments: ["plain", "x\nFAKE {\"level\":\"critical\"}", "quote \" backslash \\ tab \t cr \r", "nul \u{0} esc \u{1B}[2J del \u{7F}",
                      "line sep \u{2028} bidi \u{202E}olleh", "émoji 🎉 and 中文"])
    func lineEscaping(_ text: String) throws {
        let date = Date(timeIntervalSince1970: 1_767_225_600.123)  // 2026-01-01T00:00:00.123Z
        let line = JSONLogLine.render(date: date, level: .warning, label: "liveloop", message: text,
                                      metadata: ["channel": .string(text), "msg": "not the message", "list": [.string(text), "b"],
                                                 "nested": ["k": .string(text)]],
                                      source: "Tests")
        #expect(line.hasSuffix("}\n"))
        #expect(line.dropLast().unicodeScalars.allSatisfy { $0.value >= 0x20 && !(0x7F...0x9F).contains($0.value)
            && $0 != "\u{2028}" && $0 != "\u{2029}" && !(0x202A...0x202E).contains($0.value) },
                "no control, separator or bidi character is written raw")
        let object = try #require(Self.object(String(line.dropLast())))
        #expect(object["ts"] as? String == "2026-01-01T00:00:00.123Z")
        #expect(object["level"] as? String == "warning")
        #expect(object["label"] as? String == "liveloop")
        #expect(object["msg"] as? String == text)
        #expect(object["channel"] as? String == text)
        #expect(object["_msg"] as? String == "not the message", "metadata cannot replace a fixed field")
        #expect(object["list"] as? [String] == [text, "b"])
        #expect((object["nested"] as? [String: String])?["k"] == text)
        #expect(object["source"] as? String == "Tests")
    }

    @Test("a real server with --log-format json writes only JSON lines; a forged RTMP command stays inside one; no key, token or passphrase is logged",
          .enabled(if: LiveloopBinary.path != nil, "needs the built liveloop binary"))
    func realServer() async throws {
        let binary = try #require(LiveloopBinary.path)
        let data = NSTemporaryDirectory() + "liveloop-jsonlog-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: data) }
        let streamKey = try SQLiteStore(directory: data).createChannel(name: "show").streamKey
        let passphrase = "passphrase-\(UUID().uuidString.prefix(8))"
        let (http, rtmp) = (LiveloopBinary.freePort(), LiveloopBinary.freePort())
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--data", data, "--host", "127.0.0.1", "--http-port", "\(http)", "--rtmp-port", "\(rtmp)",
                             "--srt-port", "\(LiveloopBinary.freePort())", "--srt-passphrase", passphrase, "--drain", "0.5"]
        // From the environment, like a systemd unit: LIVELOOP_LOG_FORMAT and LIVELOOP_LOG_LEVEL.
        process.environment = ProcessInfo.processInfo.environment.merging(["LIVELOOP_LOG_FORMAT": "json", "LIVELOOP_LOG_LEVEL": "debug"]) { _, new in new }
        let stdoutPath = data + "/stdout", stderrPath = data + "/stderr"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardInput = FileHandle.nullDevice
        try ProcessLaunch.run(process)
        defer { if process.isRunning { process.terminate() } }
        #expect(await eventually(timeout: .seconds(20)) { (try? await httpRequest(port: http, .GET, "/healthz", bearer: nil))?.0 == 200 })
        let banner = try String(contentsOfFile: stdoutPath, encoding: .utf8)
        let adminKey = try #require(banner.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix("ak_") }.map(String.init))

        // An RTMP command name with a newline and a made-up log entry after it.
        let name = Array("x\nFAKE liveloop: publish started channel=admin".utf8)
        let body: [UInt8] = [0x02, 0, UInt8(name.count)] + name + [0x00] + [0x3F, 0xF0, 0, 0, 0, 0, 0, 0]
        _ = try await RawTCP.sendAndAwaitClose(port: rtmp, [RTMPBytes.handshake, RTMPBytes.header(length: body.count, type: 20) + body])
        // A real publisher with the channel's key, and one with a wrong key.
        if Tools.haveFFmpeg {
            let publisher = try Tools.publish(to: "rtmp://127.0.0.1:\(rtmp)/live/\(streamKey)", frames: 45)
            _ = await Tools.waitForExit(publisher)
            let wrong = try Tools.publish(to: "rtmp://127.0.0.1:\(rtmp)/live/not-\(streamKey)", frames: 5)
            _ = await Tools.waitForExit(wrong, timeout: .seconds(10))
        }
        // A host on the interaction WebSocket with the admin key, and a REST call with it.
        let client = try await InteractionClient.connect(
            url: InteractionClient.url(server: "http://127.0.0.1:\(http)", channel: "show"), token: adminKey)
        _ = try await client.send(.chatSend(.init(text: "hello\n{\"level\":\"critical\"}")))
        #expect(try await httpRequest(port: http, .GET, "/api/v1/channels/show/room", bearer: adminKey).0 == 200)
        // The key in the URL, as browsers pass it to a WebSocket: a request line is not a log line.
        #expect(try await httpRequest(port: http, .GET, "/api/v1/channels/show/room?token=\(adminKey)", bearer: nil).0 == 200)
        #expect(try await httpRequest(port: http, .GET, "/api/v1/channels/nowhere/room?token=\(adminKey)", bearer: nil).0 == 404)

        process.terminate()  // SIGTERM: the drain, then shutdown, all logged
        #expect(await Tools.waitForExit(process) == 0)
        await client.close()

        let output = try String(contentsOfFile: stderrPath, encoding: .utf8)
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(output.hasSuffix("\n"))
        #expect(lines.count >= 10, "debug logging of a start, traffic and a shutdown: \(lines.count) lines")
        let levels = Set(Logger.Level.allCases.map(\.rawValue))
        for line in lines {
            guard let object = Self.object(line) else {
                Issue.record("not a JSON object: \(line)")
                continue
            }
            #expect(Self.isTimestamp(object["ts"] as? String), "ts: \(line)")
            #expect(levels.contains(object["level"] as? String ?? ""), "level: \(line)")
            #expect(object["label"] is String && object["msg"] is String && object["source"] is String, "fields: \(line)")
        }
        let objects = lines.compactMap(Self.object)
        #expect(objects.contains { ($0["msg"] as? String)?.contains("x\nFAKE liveloop: publish started") == true },
                "the forged command is logged, inside one line's message")
        #expect(!lines.contains { $0.hasPrefix("FAKE") })
        #expect(objects.contains { ($0["msg"] as? String)?.hasPrefix("graceful shutdown") == true }, "the drain is logged")
        if Tools.haveFFmpeg {
            #expect(objects.contains { $0["msg"] as? String == "RTMP publish started" && $0["channel"] as? String == "show" },
                    "the publish is logged with its channel as a field")
        }
        for secret in [streamKey, adminKey, passphrase] {
            #expect(!output.contains(secret), "a secret reached the log")
        }
    }
}
