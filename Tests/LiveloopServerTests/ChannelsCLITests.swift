import Foundation
import Testing

/// `liveloop channels create|list|rotate-key` print the ingest URLs of the server, not of the machine the CLI runs
/// on: from `--public-host`/`--rtmp-port`/`--srt-port`, else from the server's configuration file (`--config`), and say
/// so plainly when the host is a guess. The real binary, on a data directory of its own.
@Suite("channels CLI: ingest URLs", .serialized, .enabled(if: ConfigFileTests.haveBinary, "needs .build/debug/liveloop"))
struct ChannelsCLITests {
    let data = NSTemporaryDirectory() + "liveloop-channels-cli-" + UUID().uuidString

    func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String, String) {
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        return try await Tools.output(ConfigFileTests.binary, arguments + ["--data", data], environment: environment)
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not JSON: \(text)")
    }

    @Test("--public-host and the ports give the URLs, the SRT one with the key in streamid; nothing is called a guess")
    func givenHost() async throws {
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (status, out, err) = try await run(["channels", "create", "show", "--public-host", "live.example.com",
                                                "--rtmp-port", "1940", "--srt-port", "9100", "--json"])
        #expect(status == 0, "\(err)")
        let body = try json(out)
        let key = try #require(body["streamKey"] as? String)
        #expect(body["rtmpURL"] as? String == "rtmp://live.example.com:1940/live")
        #expect(body["srtURL"] as? String == "srt://live.example.com:9100?streamid=\(key)")
        #expect(body["ingestHost"] as? String == "configured")
        #expect(body["ingestNote"] == nil)
        #expect(!err.contains("guess"), "no warning: \(err)")
    }

    @Test("the server's configuration file gives host, ports and RTMPS; its other keys are left to the server")
    func configFile() async throws {
        defer { try? FileManager.default.removeItem(atPath: data) }
        let path = NSTemporaryDirectory() + "liveloop-channels-" + UUID().uuidString + ".toml"
        try """
        # the server's own file
        host = "0.0.0.0"
        http-port = 8443
        public-host = "ingest.example.net"
        rtmp-port = 1950
        srt_port = 9200
        tls-cert = "/etc/liveloop/fullchain.pem"
        tls-key = "/etc/liveloop/privkey.pem"
        """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var (status, out, err) = try await run(["channels", "create", "show", "--config", path])
        #expect(status == 0, "\(err)")
        #expect(out.contains("RTMP URL:   rtmp://ingest.example.net:1950/live"), "\(out)")
        #expect(out.contains("RTMPS URL:  rtmps://ingest.example.net:1936/live"), "TLS on: RTMPS at its default port: \(out)")
        #expect(out.contains("SRT URL:    srt://ingest.example.net:9200?streamid=sk_"), "\(out)")
        #expect(!out.contains("note:"), "\(out)")
        // The command line wins over the file; LIVELOOP_CONFIG names the file as well.
        (status, out, err) = try await run(["channels", "list", "--json", "--rtmp-port", "1960"], environment: ["LIVELOOP_CONFIG": path])
        #expect(status == 0, "\(err)")
        let list = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])
        #expect(list.first?["rtmpURL"] as? String == "rtmp://ingest.example.net:1960/live")
        #expect(list.first?["srtURL"] as? String == "srt://ingest.example.net:9200", "no key in a listing")
        #expect(list.first?["streamKey"] == nil)
        // A file that cannot be read is an error, not a silent guess.
        (status, _, err) = try await run(["channels", "list", "--config", path + ".missing"])
        #expect(status != 0 && err.contains("cannot read"), "\(err)")
    }

    @Test("without a host the URLs name this machine and say it is a guess, on stdout and (with --json) on stderr",
          .enabled(if: ProcessInfo.processInfo.environment["LIVELOOP_PUBLIC_HOST"] == nil
                   && ProcessInfo.processInfo.environment["LIVELOOP_CONFIG"] == nil, "the environment names a host"))
    func guessedHost() async throws {
        defer { try? FileManager.default.removeItem(atPath: data) }
        let machine = ProcessInfo.processInfo.hostName
        var (status, out, err) = try await run(["channels", "create", "show"])
        #expect(status == 0, "\(err)")
        #expect(out.contains("RTMP URL:   rtmp://\(machine):1935/live"), "\(out)")
        #expect(out.contains("note:       these ingest URLs are a guess"), "\(out)")
        #expect(out.contains("--public-host"), "says how to give the host: \(out)")
        (status, out, err) = try await run(["channels", "rotate-key", "show", "--json"])
        #expect(status == 0, "\(err)")
        let body = try json(out)
        #expect(body["ingestHost"] as? String == "machine")
        #expect((body["ingestNote"] as? String)?.contains("guess") == true)
        #expect(err.contains("guess"), "the warning is on stderr too: \(err)")
    }
}
