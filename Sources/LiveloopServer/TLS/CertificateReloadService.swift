import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the TLS certificate and key on SIGHUP (after a renewal: `kill -HUP <pid>`, `systemctl reload`).
/// New connections get the new certificate; open connections keep theirs and are not dropped. A file that fails to
/// load leaves the certificate in use and logs one line saying why.
struct CertificateReloadService: Service {
    let credentials: TLSCredentials
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            switch credentials.reload() {
            case let .success(certificate):
                logger.notice("TLS certificate reloaded: \(certificate)")
            case let .failure(error):
                logger.error("TLS reload failed, still serving the previous certificate (\(credentials.certificate)): \(error)")
            }
        }
    }
}
