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
            client_body_temp_path \(prefix)/tmp/body;
            proxy_temp_path \(prefix)/tmp/proxy;
            fastcgi_temp_path \(prefix)/tmp/fastcgi;
            uwsgi_temp_path \(prefix)/tmp/uwsgi;
            scgi_temp_path \(prefix)/tmp/scgi;
        }

        """.write(toFile: prefix + "/nginx.conf", atomically: true, encoding: .utf8)
    }

    /// Starts nginx and waits until its RTMP port accepts connections.
    func start() async throws {
        let process = try Tools.run(Self.nginx, ["-p", prefix, "-c", prefix + "/nginx.conf", "-e", prefix + "/error.log"])
        self.process = process
        let ready = await eventually(timeout: .seconds(10)) { (try? await RawTCP.canConnect(port: port)) == true }
        guard ready else { throw Failure(log: log) }
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
