import Logging
import NIOCore
import NIOSSL
import Synchronization

/// The server's TLS identity as it stands now: the context built from `TLSFiles`, replaced whole by `reload()`.
///
/// Every accepted connection (HTTPS, WSS, RTMPS) gets a `NIOSSLServerHandler` made from the context current at that
/// moment and keeps it, so a reload changes the certificate new connections see and leaves open ones as they are.
/// A reload that fails keeps the context in use.
public final class TLSCredentials: Sendable {
    public let files: TLSFiles
    private struct Current {
        var context: NIOSSLContext
        var certificate: CertificateSummary
    }
    private let current: Mutex<Current>

    /// Loads the files now; a bad file is an error here, before any port is bound.
    public init(files: TLSFiles) throws(TLSError) {
        self.files = files
        let loaded = try files.load()
        current = Mutex(Current(context: loaded.context, certificate: loaded.certificate))
    }

    /// The certificate new connections are offered.
    public var certificate: CertificateSummary { current.withLock { $0.certificate } }

    /// Reads the files again. On success new connections get the new certificate; on failure nothing changes.
    @discardableResult
    public func reload() -> Result<CertificateSummary, TLSError> {
        do {
            let loaded = try files.load()
            current.withLock { $0 = Current(context: loaded.context, certificate: loaded.certificate) }
            return .success(loaded.certificate)
        } catch {
            return .failure(error)
        }
    }

    /// Adds TLS to a new connection's pipeline (before anything else is added), with the context current now.
    func addServerHandler(to channel: any Channel) throws {
        let context = current.withLock { $0.context }
        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
    }
}
