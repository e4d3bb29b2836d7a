import Logging
import ServiceLifecycle

/// WHEP playback as one service: binds the shared UDP port (`--webrtc-port`) and closes every session at shutdown.
/// Where the system has no OpenSSL 3 it logs that once and waits for shutdown, so everything else runs.
struct WebRTCService: Service {
    let node: WebRTCNode
    let logger: Logger

    func run() async throws {
        if let reason = node.unavailableReason {
            logger.notice("WebRTC playback unavailable: \(reason); LL-HLS and the WebSocket path run")
            try? await gracefulShutdown()
            return
        }
        try await node.start()
        try? await gracefulShutdown()
        await node.stop()
    }
}
