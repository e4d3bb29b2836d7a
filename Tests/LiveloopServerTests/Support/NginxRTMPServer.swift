import Foundation

/// Debian's nginx with libnginx-mod-rtmp, started for a test in the foreground on a port of its own with a temporary
/// configuration and prefix: an RTMP `live` application that accepts any stream name and plays it back.
final class NginxRTMPServer: @unchecked Sendable {
    static let nginx = "/usr/sbin/nginx"
    static let module = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: nginx) && FileManager.default.isReadableFile(atPath: module)
    }

    let prefix: String
    let port: Int
    // Only touched by the test that owns it, one call at a time.
    private var process: Process?

    init(port: Int) throws {
        self.port = port
        prefix = NSTemporaryDirectory() + "liveloop-nginx-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: prefix + "/tmp", withIntermediateDirectories: true)
        try """
        daemon off;
        master_process off;
        worker_processes 1;
        error_log \(prefix)/error.log info;
        pid \(prefix)/nginx.pid;
        load_module \(Self.module);
        events { worker_connections 256; }
        rtmp {
            server {
                listen 127.0.0.1:\(port);
                chunk_size 4096;
                application live {
                    live on;
                }
            }
        }
        http {
            access_log off;
            \(Self.temporaryPaths(prefix))
        }

        """.write(toFile: prefix + "/nginx.conf", atomically: true, encoding: .utf8)
    }

    /// Starts nginx and waits until its RTMP port accepts connections.
    func start() async throws {
        process = try await Self.launch(prefix: prefix, port: port)
    }

    /// Runs nginx in the foreground with `prefix/nginx.conf` and waits until `port` accepts connections.
    static func launch(prefix: String, port: Int) async throws -> Process {
        let process = try Tools.run(nginx, ["-p", prefix, "-c", prefix + "/nginx.conf", "-e", prefix + "/error.log"])
        let ready = await eventually(timeout: .seconds(10)) { (try? await RawTCP.canConnect(port: port)) == true }
        guard ready else {
            process.terminate()
            throw Failure(log: (try? String(contentsOfFile: prefix + "/error.log", encoding: .utf8)) ?? "")
        }
        return process
    }

    /// The `http` block's temporary paths, all under `prefix/tmp` (nginx's defaults need root and /var/lib/nginx).
    static func temporaryPaths(_ prefix: String) -> String {
        [("client_body", "body"), ("proxy", "proxy"), ("fastcgi", "fastcgi"), ("uwsgi", "uwsgi"), ("scgi", "scgi")]
            .map { "\($0.0)_temp_path \(prefix)/tmp/\($0.1);" }
            .joined(separator: "\n    ")
    }

    /// Kills nginx (SIGKILL: it dies mid-stream, as a crashed server does) and waits for it to exit.
    func stop() async {
        guard let process else { return }
        self.process = nil
        Foundation.kill(process.processIdentifier, SIGKILL)
        _ = await Tools.waitForExit(process, timeout: .seconds(10))
    }

    var log: String { (try? String(contentsOfFile: prefix + "/error.log", encoding: .utf8)) ?? "" }

    func remove() { try? FileManager.default.removeItem(atPath: prefix) }

    struct Failure: Error, CustomStringConvertible {
        var log: String
        var description: String { "nginx did not start: \(log.suffix(2000))" }
    }
}
