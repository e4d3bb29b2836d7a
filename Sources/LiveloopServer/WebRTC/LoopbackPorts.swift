import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Free UDP port pairs on 127.0.0.1 (an even port for RTP, the next for RTCP, as ffmpeg's RTP input binds them):
/// found by binding both and letting go, so another process could take them in between; ffmpeg then fails to bind
/// and is restarted with new ones.
enum LoopbackPorts {
    static func freePair(excluding other: Int? = nil) -> Int? {
        for _ in 0..<32 {
            guard let first = bind(0) else { return nil }
            defer { close(first.descriptor) }
            var port = first.port
            if port % 2 == 1 { port -= 1 }
            guard port != other, port != other.map({ $0 + 1 }), port > 1024 else { continue }
            let pair = port == first.port ? [port + 1] : [port]
            let held = pair.compactMap { bind($0) }
            for socket in held { close(socket.descriptor) }
            if held.count == pair.count { return port }
        }
        return nil
    }

    private static func bind(_ port: Int) -> (descriptor: Int32, port: Int)? {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        // Not inherited by a process another thread spawns meanwhile.
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            close(descriptor)
            return nil
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }
}
