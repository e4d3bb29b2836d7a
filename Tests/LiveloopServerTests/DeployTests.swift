import Foundation
import NIOHTTP1
import Testing

/// What ships in `deploy/`: the Grafana dashboard, the systemd unit and the example configuration stay true to the server.
@Suite("deploy files", .serialized)
struct DeployTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func file(_ name: String) -> String { root.appendingPathComponent("deploy/\(name)").path }

    /// Every PromQL expression in the dashboard, found wherever a panel (or a row's panel) keeps one.
    static func expressions(in value: Any) -> [String] {
        if let object = value as? [String: Any] {
            var found = (object["expr"] as? String).map { [$0] } ?? []
            for (_, child) in object { found += expressions(in: child) }
            return found
        }
        if let array = value as? [Any] { return array.flatMap(expressions(in:)) }
        return []
    }

    /// The `liveloop_…` metric names an expression uses.
    static func metricNames(in expression: String) -> Set<String> {
        let regex = try? NSRegularExpression(pattern: "liveloop_[a-z0-9_]+")
        let range = NSRange(expression.startIndex..., in: expression)
        return Set((regex?.matches(in: expression, range: range) ?? []).compactMap { match in
            Range(match.range, in: expression).map { String(expression[$0]) }
        })
    }

    @Test("every metric the Grafana dashboard queries is one the server exposes, and every family the server exposes has a panel")
    func dashboardNames() async throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.file("grafana-dashboard.json")))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let graphs = panels.filter { $0["type"] as? String != "row" }
        #expect(graphs.count >= 10)
        for panel in graphs {
            #expect(!(panel["title"] as? String ?? "").isEmpty)
            #expect(!Self.expressions(in: panel).isEmpty, "panel \(panel["title"] ?? "?") has a query")
        }
        let used = Self.expressions(in: dashboard).reduce(into: Set<String>()) { $0.formUnion(Self.metricNames(in: $1)) }

        // A server with a live broadcast, an LL-HLS viewer and a room with traffic exposes every family it has.
        let server = try await TestServer.start(demo: true, httpLimits: .crowd)
        let traffic = try await MetricsTests.Traffic.run(on: server, viewerCount: 3)
        let exposed = try await Exposition.scrape(server).exposition
        await traffic.close()
        await server.stop()

        let unknown = used.filter { !exposed.exposes($0) }.sorted()
        #expect(unknown.isEmpty, "the dashboard queries metrics the server does not expose: \(unknown)")
        // Families on no panel: the per-publisher totals are for ad-hoc queries (they restart with each publisher).
        let adHoc: Set<String> = ["liveloop_ingest_bytes", "liveloop_ingest_video_frames"]
        let unused = exposed.families.keys.filter { family in
            !adHoc.contains(family) && !used.contains { $0 == family || $0.hasPrefix(family + "_") }
        }.sorted()
        #expect(unused.isEmpty, "metrics without a panel: \(unused)")
    }

    @Test("systemd-analyze verify accepts the unit")
    func systemdUnit() async throws {
        let unit = try String(contentsOfFile: Self.file("liveloop.service"), encoding: .utf8)
        for directive in ["User=liveloop", "Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict",
                          "ReadWritePaths=/var/lib/liveloop", "KillSignal=SIGTERM", "--config /etc/liveloop/liveloop.toml"] {
            #expect(unit.contains(directive), "the unit sets \(directive)")
        }
        let limit = unit.split(separator: "\n").first { $0.hasPrefix("LimitNOFILE=") }.flatMap { Int($0.dropFirst("LimitNOFILE=".count)) }
        #expect((limit ?? 0) >= 100_000, "LimitNOFILE is high")
        // TimeoutStopSec must outlast the default drain (2 s) with room for broadcasts to end.
        let stop = unit.split(separator: "\n").first { $0.hasPrefix("TimeoutStopSec=") }
            .flatMap { Int($0.dropFirst("TimeoutStopSec=".count).trimmingCharacters(in: .letters)) }
        #expect((stop ?? 0) >= 10)

        guard Tools.path("systemd-analyze") != nil else {
            print("systemd-analyze is not installed here: the unit's syntax is not checked")
            return
        }
        let binary = try #require(LiveloopBinary.path, "the built liveloop binary")
        // verify checks that ExecStart's program exists: point it at the one just built.
        let directory = NSTemporaryDirectory() + "liveloop-unit-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let copy = directory + "/liveloop.service"
        try unit.replacingOccurrences(of: "/usr/local/bin/liveloop", with: binary).write(toFile: copy, atomically: true, encoding: .utf8)
        let (status, out, err) = try await Tools.output("systemd-analyze", ["verify", copy])
        #expect(status == 0, "systemd-analyze verify: \(out)\(err)")
        #expect(!err.contains("liveloop.service:"), "no complaint about a line of the unit: \(err)")
    }

    @Test("the example liveloop.toml names every serve option, and the server starts with it", .enabled(if: LiveloopBinary.path != nil))
    func exampleConfiguration() async throws {
        let binary = try #require(LiveloopBinary.path)
        let text = try String(contentsOfFile: Self.file("liveloop.toml"), encoding: .utf8)
        let (_, help, _) = try await Tools.output(binary, ["serve", "--help"])
        // Option names as --help writes them, also where its prose mentions one ("needs --tls-key;").
        let options = Set(help.split(whereSeparator: \.isWhitespace).filter { $0.hasPrefix("--") }
            .map { String($0.dropFirst(2).prefix { $0.isLetter || $0.isNumber || $0 == "-" }) })
            .subtracting(["config", "help", ""])
        #expect(options.count >= 25, "options read from --help: \(options.sorted())")
        for option in options.sorted() {
            let named = text.split(separator: "\n").contains { line in
                let key = line.hasPrefix("# ") ? line.dropFirst(2) : line[...]
                return key.hasPrefix(option + " = ")
            }
            #expect(named, "deploy/liveloop.toml has a line for \(option)")
        }

        // The file as it ships, with only the machine-specific settings given on the command line (which wins).
        let data = NSTemporaryDirectory() + "liveloop-example-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: data) }
        let http = LiveloopBinary.freePort()
        let process = try Tools.run(binary, [
            "serve", "--config", Self.file("liveloop.toml"), "--host", "127.0.0.1", "--http-port", "\(http)",
            "--rtmp-port", "\(LiveloopBinary.freePort())", "--srt-port", "\(LiveloopBinary.freePort())", "--data", data,
        ])
        defer { if process.isRunning { process.terminate() } }
        let up = await eventually(timeout: .seconds(20)) {
            (try? await httpRequest(port: http, .GET, "/healthz", bearer: nil))?.0 == 200
        }
        #expect(up, "the server runs with the example configuration")
        process.terminate()
        #expect(await Tools.waitForExit(process) == 0, "SIGTERM stops it cleanly")
    }
}
