import Synchronization

/// Tracks when the server is ready: both listeners bound. `/healthz` answers 200 only then, and tests wait on it to
/// learn the ports the system picked.
public final class Readiness: Sendable {
    struct State {
        var httpPort: Int?
        var rtmpPort: Int?
        /// Bound before the RTMP port, so it is known once `ports()` returns (nil without TLS).
        var rtmpsPort: Int?
        var waiters: [CheckedContinuation<(http: Int, rtmp: Int), Never>] = []
        /// The SRT port; nil until the listener binds or is known to be unavailable (`srtSettled`).
        var srtPort: Int?
        var srtSettled = false
        var srtWaiters: [CheckedContinuation<Int?, Never>] = []
    }

    private let state = Mutex(State())

    public init() {}

    public var isReady: Bool { state.withLock { $0.httpPort != nil && $0.rtmpPort != nil } }

    /// The RTMP port the listener bound (the configured one, or the system's pick for port 0); nil before it binds.
    public var boundRTMPPort: Int? { state.withLock { $0.rtmpPort } }

    func httpBound(port: Int) { update { $0.httpPort = port } }

    /// The HTTP port the server bound; nil before it binds.
    public var boundHTTPPort: Int? { state.withLock { $0.httpPort } }

    /// The SRT port the listener bound; nil before it binds, or where libsrt is missing.
    public var boundSRTPort: Int? { state.withLock { $0.srtPort } }

    func srtBound(port: Int) { settleSRT(port) }
    func srtUnavailable() { settleSRT(nil) }

    private func settleSRT(_ port: Int?) {
        let waiters = state.withLock { state in
            state.srtPort = port
            state.srtSettled = true
            defer { state.srtWaiters.removeAll() }
            return state.srtWaiters
        }
        for waiter in waiters { waiter.resume(returning: port) }
    }

    /// Waits until the SRT listener bound (its port) or turned out unavailable (nil).
    public func srtPort() async -> Int? {
        await withCheckedContinuation { continuation in
            let settled: (Bool, Int?) = state.withLock { state in
                if state.srtSettled { return (true, state.srtPort) }
                state.srtWaiters.append(continuation)
                return (false, nil)
            }
            if settled.0 { continuation.resume(returning: settled.1) }
        }
    }
    func rtmpBound(port: Int) { update { $0.rtmpPort = port } }

    /// The RTMPS port the listener bound; nil before it binds, and always without TLS.
    public var boundRTMPSPort: Int? { state.withLock { $0.rtmpsPort } }

    func rtmpsBound(port: Int) { update { $0.rtmpsPort = port } }

    private func update(_ change: (inout State) -> Void) {
        let (waiters, ports): ([CheckedContinuation<(http: Int, rtmp: Int), Never>], (Int, Int)?) = state.withLock { state in
            change(&state)
            guard let http = state.httpPort, let rtmp = state.rtmpPort else { return ([], nil) }
            defer { state.waiters.removeAll() }
            return (state.waiters, (http, rtmp))
        }
        if let ports { for waiter in waiters { waiter.resume(returning: ports) } }
    }

    /// Waits until both listeners are bound and returns their ports.
    public func ports() async -> (http: Int, rtmp: Int) {
        await withCheckedContinuation { continuation in
            let ready: (Int, Int)? = state.withLock { state in
                if let http = state.httpPort, let rtmp = state.rtmpPort { return (http, rtmp) }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
