import ArgumentParser
import Foundation
import LiveloopClient
import NIOCore
import RTMP

/// nginx with Debian's `libnginx-mod-rtmp` as the reference point: the same paced clip goes in over RTMP, and a plain
/// HLS client polls the playlist every 100 ms, downloads each new `.ts` fragment, and counts a frame as arrived when
/// the download of its fragment finished.
enum NginxRTMP {
    struct Installation: Sendable {
        var nginx: String
        var module: String
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    /// Where Debian, Fedora and source builds put the dynamic module.
    static let moduleCandidates = [
        "/usr/lib/nginx/modules/ngx_rtmp_module.so",
        "/usr/share/nginx/modules/ngx_rtmp_module.so",
        "/usr/lib64/nginx/modules/ngx_rtmp_module.so",
        "/usr/local/nginx/modules/ngx_rtmp_module.so",
    ]

    static func locate() -> Result<Installation, Missing> {
        guard let nginx = BenchSupport.executable("nginx") else {
            return .failure(Missing(description: "nginx is not installed (Debian: apt-get install nginx libnginx-mod-rtmp)"))
        }
        guard let module = moduleCandidates.first(where: { FileManager.default.isReadableFile(atPath: $0) }) else {
            return .failure(Missing(description: "the RTMP module is not installed (Debian: apt-get install libnginx-mod-rtmp)"))
        }
        return .success(Installation(nginx: nginx, module: module))
    }

    /// A configuration that runs in the foreground as one process, writes nothing outside `prefix`, and serves the HLS
    /// fragments from `prefix/hls` on `httpPort`.
    static func configuration(module: String, prefix: String, rtmpPort: Int, httpPort: Int) -> String {
        """
        daemon off;
        master_process off;
        worker_processes 1;
        error_log \(prefix)/error.log warn;
        pid \(prefix)/nginx.pid;
        load_module \(module);
        events { worker_connections 4096; }
        rtmp {
            server {
                listen 127.0.0.1:\(rtmpPort);
                chunk_size 4096;
                application live {
                    live on;
                    hls on;
                    hls_path \(prefix)/hls;
                    hls_fragment 1s;
                    hls_playlist_length 6s;
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
            types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
            server {
                listen 127.0.0.1:\(httpPort);
                location /hls/ {
                    alias \(prefix)/hls/;
                    add_header Cache-Control no-cache;
                }
            }
        }

        """
    }

    static let streamKey = "bench"

    static func measure(installation: Installation, clip: BenchClip, window: Duration, readers: Int, log: @escaping (String) -> Void) async throws -> TargetResult {
        let prefix = NSTemporaryDirectory() + "liveloop-bench-nginx-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: prefix + "/hls", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: prefix + "/tmp", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        let rtmpPort = try await BenchSupport.freePort()
        let httpPort = try await BenchSupport.freePort()
        let conf = prefix + "/nginx.conf"
        try configuration(module: installation.module, prefix: prefix, rtmpPort: rtmpPort, httpPort: httpPort)
            .write(toFile: conf, atomically: true, encoding: .utf8)
        let process = try BenchSupport.spawn(installation.nginx, ["-p", prefix, "-c", conf, "-e", prefix + "/error.log"], log: prefix + "/stderr.log")
        do {
            let result = try await run(clip: clip, window: window, readers: readers, rtmpPort: rtmpPort, httpPort: httpPort,
                                       pid: process.processIdentifier, log: log)
            await BenchSupport.stop(process)
            return result
        } catch {
            await BenchSupport.stop(process)
            let tail = BenchSupport.tail(prefix + "/error.log") + BenchSupport.tail(prefix + "/stderr.log")
            throw Missing(description: "\(error)" + (tail.isEmpty ? "" : "\nnginx log:\n\(tail)"))
        }
    }

    private static func run(clip: BenchClip, window: Duration, readers: Int, rtmpPort: Int, httpPort: Int, pid: Int32,
                            log: @escaping (String) -> Void) async throws -> TargetResult {
        guard await LiveloopRun.waitFor(timeout: .seconds(10), { (try? await LiveloopRun.get(httpPort, "/hls/"))?.status != nil }) else {
            throw Missing(description: "nginx did not answer HTTP within 10 s")
        }
        // Readers poll from before the first fragment exists, so the first fragment each reads starts with the first
        // keyframe published: that fixes the offset between nginx's MPEG-TS clock and the publisher's timestamps.
        let joined = ContinuousClock.now
        let start = joined + BenchLatency.warmUp
        let end = start + window
        // A frame can wait up to a fragment (cut at the next keyframe after 1 s) plus a poll before it is readable.
        let stop = end + .seconds(5)
        let polling = Task {
            await withTaskGroup(of: Result<[(dts: Int64, at: ContinuousClock.Instant)], any Error>.self) { group in
                for _ in 0..<readers {
                    group.addTask {
                        do {
                            return .success(try await HLSPoller(port: httpPort, path: "/hls/\(streamKey).m3u8").follow(until: stop))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                var all: [Result<[(dts: Int64, at: ContinuousClock.Instant)], any Error>] = []
                for await result in group { all.append(result) }
                return all
            }
        }

        var publisher: RTMPPublisher?
        for _ in 0..<50 where publisher == nil {
            publisher = try? await RTMPPublisher.connect(host: "127.0.0.1", port: rtmpPort, app: "live", streamKey: streamKey)
            if publisher == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard let publisher else {
            polling.cancel()
            throw Missing(description: "could not publish to nginx-rtmp on port \(rtmpPort)")
        }
        let publishing = Task { try await PacedPublisher.run(clip, publisher: publisher) }
        log("nginx-rtmp: publishing; measuring \(window) after \(BenchLatency.warmUp) warm-up…")
        let serverCost = Task { await CostSampler(pid: pid).measure(from: start, to: end) }
        let benchCost = Task { await CostSampler(pid: nil).measure(from: start, to: end) }

        let polled = await polling.value
        publishing.cancel()
        let written = try await publishing.value
        await publisher.close()

        var arrivals: [[(dts: Int64, at: ContinuousClock.Instant)]] = []
        var errors: [String] = []
        for result in polled {
            switch result {
            case let .success(frames):
                // MPEG-TS time is 33 bits; nginx adds its own constant. The earliest frame read is the first keyframe.
                guard let origin = frames.map(\.dts).min() else { arrivals.append([]); continue }
                arrivals.append(frames.map { (dts: (($0.dts - origin) % (1 << 33) + (1 << 33)) % (1 << 33), at: $0.at) })
            case let .failure(error):
                arrivals.append([])
                errors.append("\(error)")
            }
        }
        return TargetResult(
            latency: LatencyMatcher.summarize(written: written, window: start...end, arrivals: arrivals),
            server: await serverCost.value, benchProcess: await benchCost.value, readerErrors: errors
        )
    }
}

/// A plain HLS client: reloads the playlist every `interval`, downloads each fragment not seen before, and reports every
/// video frame in it (its DTS, 90 kHz, as written in the MPEG-TS) at the instant the download finished.
struct HLSPoller {
    var port: Int
    var path: String
    var interval: Duration = .milliseconds(100)

    func follow(until deadline: ContinuousClock.Instant) async throws -> [(dts: Int64, at: ContinuousClock.Instant)] {
        var frames: [(dts: Int64, at: ContinuousClock.Instant)] = []
        var seen = Set<String>()
        let directory = path.split(separator: "/").dropLast().joined(separator: "/")
        while ContinuousClock.now < deadline {
            do {
                try await HTTPConnection.with(host: "127.0.0.1", port: port) { connection in
                    while ContinuousClock.now < deadline {
                        let poll = ContinuousClock.now
                        let playlist = try await connection.get(path)
                        if playlist.status == 200 {
                            for segment in ParsedMediaPlaylist(String(buffer: playlist.body)).segments where !seen.contains(segment.uri) {
                                seen.insert(segment.uri)
                                let response = try await connection.get("/\(directory)/\(segment.uri)")
                                let arrived = ContinuousClock.now
                                guard response.status == 200 else { continue }
                                for dts in MPEGTSTimestamps.videoDecodeTimes(response.body) { frames.append((dts, arrived)) }
                            }
                        }
                        try await Task.sleep(until: poll + interval, clock: .continuous)
                    }
                }
            } catch is CancellationError {
                break
            } catch {
                // nginx closed the keep-alive connection: open another.
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        return frames
    }
}

/// Just enough MPEG-TS (ISO/IEC 13818-1) to time frames: finds the H.264 stream in the PMT and reads the DTS (or the
/// PTS where there is no DTS) of each PES packet that starts on it. One PES is one access unit in what nginx-rtmp writes.
enum MPEGTSTimestamps {
    static let packetSize = 188

    static func videoDecodeTimes(_ buffer: ByteBuffer) -> [Int64] {
        let bytes = Array(buffer.readableBytesView)
        var pmtPID: Int?
        var videoPID: Int?
        var times: [Int64] = []
        var offset = 0
        while offset + packetSize <= bytes.count {
            defer { offset += packetSize }
            guard bytes[offset] == 0x47 else { continue }
            let pid = Int(bytes[offset + 1] & 0x1F) << 8 | Int(bytes[offset + 2])
            let unitStart = bytes[offset + 1] & 0x40 != 0
            let adaptation = (bytes[offset + 3] >> 4) & 0x3
            var payload = offset + 4
            if adaptation & 0x2 != 0 { payload += 1 + Int(bytes[offset + 4]) }
            guard adaptation & 0x1 != 0, payload < offset + packetSize else { continue }
            let packet = Array(bytes[payload..<(offset + packetSize)])

            if pid == 0, unitStart {
                pmtPID = programMapPID(packet)
            } else if pid == pmtPID, unitStart {
                videoPID = h264PID(packet) ?? videoPID
            } else if pid == videoPID, unitStart, let dts = decodeTime(packet) {
                times.append(dts)
            }
        }
        return times
    }

    /// The first program's PMT PID from a PAT section.
    static func programMapPID(_ packet: [UInt8]) -> Int? {
        let section = 1 + Int(packet.first ?? 0)  // pointer field
        // table id, 2 bytes length, 2 bytes TS id, version, section number, last section number: 8 bytes, then programs.
        var entry = section + 8
        while entry + 4 <= packet.count {
            let program = Int(packet[entry]) << 8 | Int(packet[entry + 1])
            let pid = Int(packet[entry + 2] & 0x1F) << 8 | Int(packet[entry + 3])
            if program != 0 { return pid }
            entry += 4
        }
        return nil
    }

    /// The PID of the first stream of type 0x1B (H.264) in a PMT section.
    static func h264PID(_ packet: [UInt8]) -> Int? {
        let section = 1 + Int(packet.first ?? 0)
        guard section + 12 <= packet.count else { return nil }
        let sectionLength = Int(packet[section + 1] & 0x0F) << 8 | Int(packet[section + 2])
        let programInfoLength = Int(packet[section + 10] & 0x0F) << 8 | Int(packet[section + 11])
        let end = min(packet.count, section + 3 + sectionLength - 4)  // before the CRC
        var entry = section + 12 + programInfoLength
        while entry + 5 <= end {
            let type = packet[entry]
            let pid = Int(packet[entry + 1] & 0x1F) << 8 | Int(packet[entry + 2])
            if type == 0x1B { return pid }
            entry += 5 + (Int(packet[entry + 3] & 0x0F) << 8 | Int(packet[entry + 4]))
        }
        return nil
    }

    /// DTS, or PTS when the PES carries no DTS, from the start of a PES packet.
    static func decodeTime(_ pes: [UInt8]) -> Int64? {
        guard pes.count >= 14, pes[0] == 0, pes[1] == 0, pes[2] == 1 else { return nil }
        let flags = pes[7] >> 6
        switch flags {
        case 0b11 where pes.count >= 19: return timestamp(pes[14..<19])
        case 0b10, 0b11: return timestamp(pes[9..<14])
        default: return nil
        }
    }

    /// A 33-bit PES timestamp from its five bytes.
    static func timestamp(_ b: ArraySlice<UInt8>) -> Int64 {
        let b = Array(b)
        return Int64(b[0] >> 1 & 0x07) << 30 | Int64(b[1]) << 22 | Int64(b[2] >> 1) << 15 | Int64(b[3]) << 7 | Int64(b[4] >> 1)
    }
}
