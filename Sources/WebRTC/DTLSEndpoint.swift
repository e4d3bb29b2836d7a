/// SRTP master keys and salts from a DTLS-SRTP handshake (RFC 5764 §4.2): what each side protects its packets with.
public struct SRTPKeyingMaterial: Sendable, Equatable {
    public var clientKey: [UInt8]
    public var clientSalt: [UInt8]
    public var serverKey: [UInt8]
    public var serverSalt: [UInt8]

    /// Splits `SSL_export_keying_material`'s output for AES-128-CM (16-byte keys, 14-byte salts):
    /// client key, server key, client salt, server salt.
    public init?(exported bytes: [UInt8]) {
        guard bytes.count == 60 else { return nil }
        clientKey = Array(bytes[0..<16])
        serverKey = Array(bytes[16..<32])
        clientSalt = Array(bytes[32..<46])
        serverSalt = Array(bytes[46..<60])
    }
}

/// One peer's DTLS 1.2 association, as the server (the WHEP answer says `a=setup:passive`), over memory BIOs: the
/// caller hands in each datagram that demultiplexed as DTLS (RFC 7983: first byte 20–63) and sends what comes out.
/// Not thread-safe: a session owns it on its event loop.
///
/// When the handshake completes, the peer's certificate must match the SHA-256 fingerprint of its offer (RFC 8122
/// §5), an SRTP profile must have been agreed (RFC 5764 §4.1.2), and the keys are exported
/// (`EXTRACTOR-dtls_srtp`). Anything else is a failure of this association only.
public final class DTLSEndpoint {
    public enum Event: Sendable, Equatable {
        case connected(SRTPKeyingMaterial)
        case failed(String)
        /// The peer sent close_notify.
        case closed
    }

    public struct Output: Sendable {
        public var datagrams: [[UInt8]] = []
        public var event: Event?
    }

    /// Largest datagram we send: leaves room for IP/UDP headers and a TURN relay below a 1280-byte path MTU.
    public static let maximumDatagram = 1200

    private let library: LibSSL
    private let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    private let expectedFingerprint: String
    public private(set) var isConnected = false
    private var isFinished = false

    public init(context: DTLSContext, peerFingerprint: String) throws(DTLSError) {
        let library = context.library
        self.library = library
        guard let ssl = library.sslNew(context.context) else { throw .call("SSL_new", message: library.drainErrors()) }
        guard let readBIO = library.bioNew(library.bioSMem()), let writeBIO = library.bioNew(library.bioSMem()) else {
            library.sslFree(ssl)
            throw .call("BIO_new", message: library.drainErrors())
        }
        library.sslSetBIO(ssl, readBIO, writeBIO)  // the SSL owns both BIOs now
        _ = library.sslSetOptions(ssl, LibSSL.sslOpNoQueryMTU)
        _ = library.sslCtrl(ssl, LibSSL.sslCtrlSetMTU, Self.maximumDatagram - 28, nil)
        if context.isClient { library.sslSetConnectState(ssl) } else { library.sslSetAcceptState(ssl) }
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        expectedFingerprint = peerFingerprint.uppercased()
    }

    deinit { library.sslFree(ssl) }

    /// Feeds one DTLS datagram from the peer.
    public func receive(_ datagram: [UInt8]) -> Output {
        guard !isFinished, !datagram.isEmpty, datagram.count <= 65_535 else { return Output() }
        _ = datagram.withUnsafeBytes { library.bioWrite(readBIO, $0.baseAddress, Int32($0.count)) }
        var output = Output()
        if isConnected {
            // After the handshake only alerts (or a retransmitted Finished) arrive; there is no application data.
            var scratch = [UInt8](repeating: 0, count: 2048)
            let count = scratch.withUnsafeMutableBytes { library.sslRead(ssl, $0.baseAddress, Int32($0.count)) }
            if count <= 0 {
                let error = library.sslGetError(ssl, count)
                if error == LibSSL.sslErrorZeroReturn {
                    isFinished = true
                    output.event = .closed
                } else if error != LibSSL.sslErrorWantRead, error != LibSSL.sslErrorWantWrite {
                    _ = library.drainErrors()
                }
            }
            output.datagrams = pendingDatagrams()
            return output
        }
        let result = library.sslDoHandshake(ssl)
        output.datagrams = pendingDatagrams()
        if result == 1 {
            output.event = finishHandshake()
        } else {
            let error = library.sslGetError(ssl, result)
            if error != LibSSL.sslErrorWantRead, error != LibSSL.sslErrorWantWrite {
                isFinished = true
                output.event = .failed("handshake: \(library.drainErrors())")
            }
        }
        return output
    }

    /// As the client: the first flight (ClientHello) to send.
    public func start() -> [[UInt8]] {
        _ = library.sslDoHandshake(ssl)
        return pendingDatagrams()
    }

    /// Retransmits our last flight if its timer ran out (`DTLSv1_handle_timeout`); call every few hundred ms while
    /// the handshake runs.
    public func handleTimeout() -> [[UInt8]] {
        guard !isFinished, !isConnected else { return [] }
        _ = library.sslCtrl(ssl, LibSSL.dtlsCtrlHandleTimeout, 0, nil)
        return pendingDatagrams()
    }

    private func finishHandshake() -> Event {
        isFinished = true
        guard let certificate = library.sslPeerCertificate(ssl) else { return .failed("the peer sent no certificate") }
        let digest = DTLSContext.sha256(library, certificate)
        library.x509Free(certificate)
        guard let digest, DTLSContext.format(digest) == expectedFingerprint else {
            return .failed("the peer's certificate does not match the fingerprint in its offer")
        }
        guard library.sslSelectedSRTPProfile(ssl) != nil else { return .failed("no SRTP profile was agreed (use_srtp)") }
        var exported = [UInt8](repeating: 0, count: 60)
        let label = "EXTRACTOR-dtls_srtp"
        let ok = label.withCString { labelPointer in
            library.sslExportKeyingMaterial(ssl, &exported, exported.count, labelPointer, label.utf8.count, nil, 0, 0)
        }
        guard ok == 1, let keys = SRTPKeyingMaterial(exported: exported) else {
            return .failed("SSL_export_keying_material: \(library.drainErrors())")
        }
        isFinished = false
        isConnected = true
        return .connected(keys)
    }

    /// What OpenSSL wrote, cut into datagrams at record boundaries (a memory BIO runs records together).
    private func pendingDatagrams() -> [[UInt8]] {
        let pending = library.bioCtrl(writeBIO, LibSSL.bioCtrlPending, 0, nil)
        guard pending > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: pending)
        let read = bytes.withUnsafeMutableBytes { library.bioRead(writeBIO, $0.baseAddress, Int32($0.count)) }
        guard read > 0 else { return [] }
        return Self.split(records: Array(bytes.prefix(Int(read))), limit: Self.maximumDatagram)
    }

    /// Packs whole DTLS records (13-byte header, length in bytes 11–12, RFC 6347 §4.1) into datagrams of at most
    /// `limit` bytes; a record longer than `limit` goes alone.
    static func split(records bytes: [UInt8], limit: Int) -> [[UInt8]] {
        var datagrams: [[UInt8]] = []
        var current: [UInt8] = []
        var offset = 0
        while offset + 13 <= bytes.count {
            let length = Int(bytes[offset + 11]) << 8 | Int(bytes[offset + 12])
            let end = min(offset + 13 + length, bytes.count)
            if !current.isEmpty, current.count + (end - offset) > limit {
                datagrams.append(current)
                current = []
            }
            current.append(contentsOf: bytes[offset..<end])
            offset = end
        }
        if offset < bytes.count { current.append(contentsOf: bytes[offset...]) }
        if !current.isEmpty { datagrams.append(current) }
        return datagrams
    }
}
