#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import MediaFormats
import Synchronization

/// An SRT listener for publishers: callers in live mode send MPEG-TS, one connection per broadcast.
///
/// libsrt's calls block, so none of them runs on the cooperative pool or an event loop: one thread accepts, and each
/// connection reads with `srt_recvmsg` on a thread of its own. Bounded: at most `maxConnections` callers at once
/// (more are refused at the handshake), the first packet must arrive within `firstPacketTimeout`, and then no
/// silence longer than `idleTimeout`; the demuxer bounds what one connection buffers.
public final class SRTListener: Sendable {
    public struct Configuration: Sendable {
        public var host = "0.0.0.0"
        public var port = 9000
        /// SRTO_PASSPHRASE (10–79 characters) on the listener: callers must encrypt with it.
        public var passphrase: String?
        /// SRTO_LATENCY in milliseconds: how long the receiver waits for retransmissions (libsrt's default is 120).
        public var latencyMilliseconds = 120
        public var maxConnections = 16
        public var firstPacketTimeout: Duration = .seconds(5)
        public var idleTimeout: Duration = .seconds(10)

        public init() {}
    }

    struct State {
        var listener: Int32 = -1
        /// The write end of the pipe that wakes a listener still waiting for its first caller.
        var wake: Int32 = -1
        var connections: Set<Int32> = []
        var stopped = false
    }

    /// What the handshake callback needs, kept alive for the listener's lifetime.
    final class CallbackContext: Sendable {
        let gate: any SRTPublishGate
        let open: Atomic<Int>
        let limit: Int
        let library: LibSRT
        init(gate: any SRTPublishGate, limit: Int, library: LibSRT) {
            self.gate = gate
            self.open = Atomic(0)
            self.limit = limit
            self.library = library
        }
    }

    public let configuration: Configuration
    /// The port bound (the system's pick when the configuration asked for 0).
    public let port: Int
    private let library: LibSRT
    private let context: CallbackContext
    // Only handed to libsrt and released in deinit; never dereferenced from Swift outside the callback.
    private nonisolated(unsafe) let contextPointer: UnsafeMutableRawPointer
    private let state = Mutex(State())
    private let logger: Logger
    private let done = Mutex<[CheckedContinuation<Void, Never>]?>([])

    /// Binds and starts accepting on a thread of its own.
    ///
    /// Where libsrt has `srt_bind_acquire`, the port is bound as a plain UDP socket and libsrt is handed it only when
    /// the first datagram arrives: until an SRT caller knocks, the listener costs a thread blocked in `poll` and no CPU
    /// (libsrt's receiver thread wakes about a hundred times a second even with nobody connected). The caller's first
    /// handshake packet waits in the socket's queue for libsrt to read.
    public static func start(configuration: Configuration, gate: any SRTPublishGate, logger: Logger) throws(SRTError) -> SRTListener {
        guard let library = LibSRT.shared else { throw .libraryUnavailable }
        if let passphrase = configuration.passphrase, !(10...79).contains(passphrase.utf8.count) { throw .badPassphrase }
        if library.bindAcquire != nil {
            let udp = try openUDP(host: configuration.host, port: configuration.port)
            var wake: [Int32] = [-1, -1]
            guard pipe(&wake) == 0 else {
                _ = Glibc.close(udp)
                throw .call("pipe", message: String(cString: strerror(errno)))
            }
            let listener = SRTListener(configuration: configuration, port: localPort(udp) ?? configuration.port,
                                       library: library, gate: gate, logger: logger)
            let (readEnd, writeEnd) = (wake[0], wake[1])
            listener.state.withLock { $0.wake = writeEnd }
            Thread.detachNewThread { listener.awaitFirstCaller(udp: udp, wake: readEnd) }
            return listener
        }
        let socket = try makeListeningSocket(configuration: configuration, library: library) { socket throws(SRTError) in
            try bind(socket, host: configuration.host, port: configuration.port, library: library)
        }
        let listener = SRTListener(configuration: configuration, port: boundPort(socket, library: library) ?? configuration.port,
                                   library: library, gate: gate, logger: logger)
        do throws(SRTError) {
            try listener.listen(on: socket)
        } catch {
            _ = library.close(socket)
            throw error
        }
        listener.state.withLock { $0.listener = socket }
        Thread.detachNewThread { listener.acceptLoop(socket) }
        return listener
    }

    /// A live-mode SRT socket with the configuration's options, bound by `bind`.
    private static func makeListeningSocket(configuration: Configuration, library: LibSRT,
                                            bind: (Int32) throws(SRTError) -> Void) throws(SRTError) -> Int32 {
        let socket = library.createSocket()
        guard socket >= 0 else { throw .call("srt_create_socket", message: library.lastError) }
        do throws(SRTError) {
            library.set(socket, .transmissionType, int: 0)  // SRTT_LIVE
            library.set(socket, .latency, int: Int32(clamping: configuration.latencyMilliseconds))
            if let passphrase = configuration.passphrase, !library.set(socket, .passphrase, string: passphrase) {
                throw .call("SRTO_PASSPHRASE", message: library.lastError)
            }
            try bind(socket)
            return socket
        } catch {
            _ = library.close(socket)
            throw error
        }
    }

    /// Installs the handshake callback and listens.
    private func listen(on socket: Int32) throws(SRTError) {
        guard library.listenCallback(socket, SRTListener.handshake, contextPointer) >= 0 else {
            throw .call("srt_listen_callback", message: library.lastError)
        }
        guard library.listen(socket, 16) >= 0 else { throw .call("srt_listen", message: library.lastError) }
    }

    /// Blocks in `poll` until the first datagram (or `stop`), then hands the UDP socket to libsrt and accepts.
    private func awaitFirstCaller(udp: Int32, wake: Int32) {
        var fds = [pollfd(fd: udp, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        while poll(&fds, 2, -1) < 0 && errno == EINTR {}
        _ = Glibc.close(wake)
        let knocked = fds[0].revents & Int16(POLLIN) != 0 && !state.withLock { $0.stopped }
        guard knocked else {
            _ = Glibc.close(udp)
            finished()
            return
        }
        let socket: Int32
        do throws(SRTError) {
            socket = try Self.makeListeningSocket(configuration: configuration, library: library) { [library] socket throws(SRTError) in
                guard library.bindAcquire?(socket, udp) ?? -1 >= 0 else { throw .call("srt_bind_acquire", message: library.lastError) }
            }
            do throws(SRTError) {
                try listen(on: socket)
            } catch {
                _ = library.close(socket)
                throw error
            }
        } catch {
            logger.error("SRT listener could not start; SRT publishing is off", metadata: ["error": "\(error)"])
            finished()
            return
        }
        let started = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.listener = socket
            return true
        }
        guard started else {
            _ = library.close(socket)
            finished()
            return
        }
        logger.debug("SRT: first caller; libsrt now receives on the port")
        acceptLoop(socket)
    }

    /// A plain UDP socket bound to `host:port`, for libsrt to take over.
    private static func openUDP(host: String, port: Int) throws(SRTError) -> Int32 {
        let family: Int32
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            family = AF_INET
        } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            family = AF_INET6
        } else {
            throw .badAddress(host)
        }
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .call("socket", message: String(cString: strerror(errno))) }
        let result: Int32
        if family == AF_INET {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(clamping: port)).bigEndian
            result = withUnsafePointer(to: &v4) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        } else {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(clamping: port)).bigEndian
            result = withUnsafePointer(to: &v6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        guard result == 0 else {
            let message = String(cString: strerror(errno))
            _ = Glibc.close(fd)
            throw .call("bind", message: message)
        }
        return fd
    }

    private static func localPort(_ fd: Int32) -> Int? {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return result == 0 ? describePort(address) : nil
    }

    private init(configuration: Configuration, port: Int, library: LibSRT, gate: any SRTPublishGate, logger: Logger) {
        self.configuration = configuration
        self.port = port
        self.library = library
        self.logger = logger
        context = CallbackContext(gate: gate, limit: max(1, configuration.maxConnections), library: library)
        contextPointer = Unmanaged.passRetained(context).toOpaque()
    }

    deinit {
        Unmanaged<CallbackContext>.fromOpaque(contextPointer).release()
    }

    /// Open publisher connections.
    public var connectionCount: Int { context.open.load(ordering: .relaxed) }

    /// Closes the listener and every connection (each reports its publisher gone); returns when the accept thread ended.
    public func stop() async {
        let (sockets, wake): ([Int32], Int32) = state.withLock { state in
            guard !state.stopped else { return ([], -1) }
            state.stopped = true
            defer { state.wake = -1 }
            return ([state.listener] + Array(state.connections), state.wake)
        }
        if wake >= 0 {
            var byte: UInt8 = 1
            _ = write(wake, &byte, 1)
            _ = Glibc.close(wake)
        }
        for socket in sockets where socket >= 0 { _ = library.close(socket) }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = done.withLock { waiters -> Bool in
                guard waiters != nil else { return true }
                waiters?.append(continuation)
                return false
            }
            if finished { continuation.resume() }
        }
    }

    /// The handshake callback (`srt_listen_callback`): runs on libsrt's receiver thread before the caller is accepted.
    /// Returning -1 rejects the caller, which then fails its connect at once.
    private static let handshake: LibSRT.ListenCallback = { opaque, socket, _, _, streamID in
        guard let opaque else { return -1 }
        let context = Unmanaged<CallbackContext>.fromOpaque(opaque).takeUnretainedValue()
        let text = streamID.map { String(cString: $0) } ?? ""
        // SRT_REJX_FORBIDDEN (1403) and SRT_REJX_OVERLOAD (1402): the caller's log says which.
        guard context.open.load(ordering: .relaxed) < context.limit else {
            _ = context.library.setRejectReason?(socket, 1402)
            return -1
        }
        guard let id = SRTStreamID(text), context.gate.admits(streamKey: id.streamKey) else {
            _ = context.library.setRejectReason?(socket, 1403)
            return -1
        }
        return 0
    }

    private func acceptLoop(_ listener: Int32) {
        while true {
            var address = sockaddr_storage()
            var length = Int32(MemoryLayout<sockaddr_storage>.size)
            let socket = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { library.accept(listener, $0, &length) }
            }
            guard socket >= 0 else {
                let stopped = state.withLock { $0.stopped }
                if !stopped { logger.error("SRT accept failed; the listener stops", metadata: ["error": "\(library.lastError)"]) }
                break
            }
            let remote = Self.describe(address)
            let admitted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.connections.insert(socket)
                return true
            }
            guard admitted, context.open.wrappingAdd(1, ordering: .relaxed).newValue <= context.limit else {
                if admitted { context.open.wrappingSubtract(1, ordering: .relaxed); forget(socket) }
                _ = library.close(socket)
                continue
            }
            Thread.detachNewThread { [self] in
                serve(socket, remote: remote)
                context.open.wrappingSubtract(1, ordering: .relaxed)
            }
        }
        finished()
    }

    /// Wakes whoever waits in ``stop()``.
    private func finished() {
        let waiters = done.withLock { waiters -> [CheckedContinuation<Void, Never>] in
            defer { waiters = nil }
            return waiters ?? []
        }
        for waiter in waiters { waiter.resume() }
    }

    private func forget(_ socket: Int32) {
        state.withLock { _ = $0.connections.remove(socket) }
    }

    /// One publisher: claim the channel, then read, demux and ingest until the caller leaves, goes silent, or sends
    /// something that is not a transport stream.
    private func serve(_ socket: Int32, remote: String) {
        defer {
            forget(socket)
            _ = library.close(socket)
        }
        guard let streamID = library.string(socket, .streamID).flatMap(SRTStreamID.init),
              let sink = context.gate.begin(streamKey: streamID.streamKey, remote: remote) else {
            logger.info("SRT publish refused after accept", metadata: ["remote": "\(remote)"])
            return
        }
        defer { sink.publisherDisconnected() }
        library.set(socket, .receiveSynchronous, int: 1)
        library.set(socket, .receiveTimeout, int: Self.milliseconds(configuration.firstPacketTimeout))
        var ingest = MPEGTSIngest()
        var buffer = [CChar](repeating: 0, count: 1500)
        var received = 0
        while true {
            let count = buffer.withUnsafeMutableBufferPointer { library.recvmsg(socket, $0.baseAddress, Int32($0.count)) }
            guard count > 0 else {
                let stopped = state.withLock { $0.stopped }
                if !stopped {
                    logger.info(received == 0 ? "SRT publisher sent nothing in time" : "SRT publisher left",
                                metadata: ["remote": "\(remote)", "reason": "\(library.lastError)"])
                }
                break
            }
            if received == 0 { library.set(socket, .receiveTimeout, int: Self.milliseconds(configuration.idleTimeout)) }
            received += Int(count)
            let events: [IngestEvent]
            do {
                events = try buffer.withUnsafeBufferPointer { pointer throws(MPEGTSError) in
                    try ingest.feed(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: pointer[0..<Int(count)])))
                }
            } catch {
                logger.warning("SRT publisher sent something that is not MPEG-TS; closing it", metadata: ["remote": "\(remote)", "error": "\(error)"])
                break
            }
            if !events.isEmpty { sink.ingest(events) }
        }
        let tail = ingest.finish()
        if !tail.isEmpty { sink.ingest(tail) }
        if ingest.droppedCount > 0 {
            logger.info("SRT publisher's stream had damage", metadata: [
                "remote": "\(remote)", "dropped": "\(ingest.droppedCount)", "last": "\(ingest.problems.last ?? "")",
            ])
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    private static func bind(_ socket: Int32, host: String, port: Int, library: LibSRT) throws(SRTError) {
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        let result: Int32
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(clamping: port)).bigEndian
            result = withUnsafePointer(to: &v4) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { library.bind(socket, $0, Int32(MemoryLayout<sockaddr_in>.size)) }
            }
        } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(clamping: port)).bigEndian
            result = withUnsafePointer(to: &v6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { library.bind(socket, $0, Int32(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            throw .badAddress(host)
        }
        guard result >= 0 else { throw .call("srt_bind", message: library.lastError) }
    }

    private static func boundPort(_ socket: Int32, library: LibSRT) -> Int? {
        var address = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { library.getSockName(socket, $0, &length) }
        }
        guard result >= 0 else { return nil }
        return describePort(address)
    }

    private static func describePort(_ address: sockaddr_storage) -> Int? {
        var address = address
        switch Int32(address.ss_family) {
        case AF_INET: return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6: return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default: return nil
        }
    }

    private static func describe(_ address: sockaddr_storage) -> String {
        var address = address
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let port = describePort(address) ?? 0
        switch Int32(address.ss_family) {
        case AF_INET:
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    var addr = pointer.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &addr, &text, socklen_t(text.count))
                }
            }
        case AF_INET6:
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    var addr = pointer.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &addr, &text, socklen_t(text.count))
                }
            }
        default: return "unknown"
        }
        return String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) + ":\(port)"
    }
}
