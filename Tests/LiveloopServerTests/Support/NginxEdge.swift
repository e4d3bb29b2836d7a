import Foundation

/// Debian's nginx running `deploy/nginx-edge.conf` in front of a test origin: the shipped file itself, with only its
/// origin address, listen port and paths rewritten to the test's, wrapped in a minimal main configuration.
final class NginxEdge: @unchecked Sendable {
    static let nginx = "/usr/sbin/nginx"
    static var available: Bool { FileManager.default.isExecutableFile(atPath: nginx) }
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("deploy/nginx-edge.conf").path

    let prefix: String
    let port: Int
    // Only touched by the test that owns it, one call at a time.
    private var process: Process?

    init(port: Int, origin: Int) throws {
        self.port = port
        prefix = NSTemporaryDirectory() + "liveloop-edge-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: prefix + "/tmp", withIntermediateDirectories: true)
        var site = try String(contentsOfFile: Self.shipped, encoding: .utf8)
        for (from, to) in [("server 127.0.0.1:8080;", "server 127.0.0.1:\(origin);"), ("listen 80;", "listen 127.0.0.1:\(port);"),
                           ("/var/cache/nginx/liveloop", "\(prefix)/cache"), ("/var/log/nginx/liveloop-edge.log", "\(prefix)/access.log")] {
            guard site.contains(from) else { throw Failure(log: "deploy/nginx-edge.conf no longer has \(from)") }
            site = site.replacingOccurrences(of: from, with: to)
        }
        try site.write(toFile: prefix + "/edge.conf", atomically: true, encoding: .utf8)
        try """
        daemon off;
        master_process off;
        worker_processes 1;
        error_log \(prefix)/error.log info;
        pid \(prefix)/nginx.pid;
        events { worker_connections 1024; }
        http {
            \(NginxRTMPServer.temporaryPaths(prefix))
            include \(prefix)/edge.conf;
        }

        """.write(toFile: prefix + "/nginx.conf", atomically: true, encoding: .utf8)
    }

    /// Starts nginx and waits until its port accepts connections.
    func start() async throws {
        process = try await NginxRTMPServer.launch(prefix: prefix, port: port)
    }

    func stop() async {
        guard let process else { return }
        self.process = nil
        process.terminate()
        _ = await Tools.waitForExit(process, timeout: .seconds(10))
        try? FileManager.default.removeItem(atPath: prefix)
    }

    var log: String { (try? String(contentsOfFile: prefix + "/error.log", encoding: .utf8)) ?? "" }

    /// The access log's lines (the shipped `liveloop_edge` format: request, status, `cache=…`).
    var accessLog: [String] {
        ((try? String(contentsOfFile: prefix + "/access.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// `$upstream_cache_status` of each logged request whose request line contains `path`.
    func cacheStatuses(of path: String) -> [String] {
        accessLog.filter { $0.contains("GET \(path) ") }.compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("cache=") }.map { String($0.dropFirst("cache=".count)) }
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var log: String
        var description: String { "nginx edge: \(log.suffix(2000))" }
    }
}
