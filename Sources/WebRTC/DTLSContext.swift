import Crypto
import Foundation

/// Why DTLS could not be set up or went wrong.
public enum DTLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No OpenSSL 3 on this system (``LibSSL/libraryNames``).
    case libraryUnavailable
    /// An OpenSSL call failed, with OpenSSL's first queued message.
    case call(String, message: String)

    public var description: String {
        switch self {
        case .libraryUnavailable: "OpenSSL 3 (libssl.so.3, libcrypto.so.3) is not installed (apt-get install libssl3)"
        case let .call(name, message): "DTLS: \(name) failed: \(message)"
        }
    }
}

/// The server's DTLS identity and settings, shared by every session: a self-signed ECDSA P-256 certificate made at
/// start (WebRTC authenticates it by the SHA-256 fingerprint in the SDP answer, RFC 8122 §5, not by a CA), and an
/// `SSL_CTX` that speaks DTLS 1.2 as a server, offers the SRTP profiles (RFC 5764 §4.1.2) and asks the peer for its
/// certificate, which each session checks against the fingerprint of the peer's offer.
public final class DTLSContext: @unchecked Sendable {
    // @unchecked: the SSL_CTX is configured in `init` and only read afterwards (`SSL_new` is thread-safe on it).
    let library: LibSSL
    let context: OpaquePointer
    /// `sha-256` fingerprint of our certificate, as SDP writes it: upper-case hex pairs joined by colons.
    public let fingerprint: String

    /// SRTP profiles offered, in order of preference (RFC 5764 §4.1.2).
    public static let srtpProfiles = "SRTP_AES128_CM_SHA1_80"

    /// Whether the sessions made from this context are the DTLS server (the node's, for every WHEP and WHIP peer) or the
    /// client (`liveloop bench webrtc`'s own viewers).
    public let isClient: Bool

    public init(library: LibSSL? = LibSSL.shared, validity: TimeInterval = 30 * 24 * 3600, client: Bool = false) throws(DTLSError) {
        isClient = client
        guard let library else { throw .libraryUnavailable }
        self.library = library
        let key = try Self.makeKey(library)
        defer { library.evpPKeyFree(key) }
        let certificate = try Self.makeCertificate(library, key: key, validity: validity)
        defer { library.x509Free(certificate) }
        guard let context = library.ctxNew(client ? library.dtlsClientMethod() : library.dtlsServerMethod()) else {
            throw .call("SSL_CTX_new", message: library.drainErrors())
        }
        guard library.ctxUseCertificate(context, certificate) == 1 else {
            library.ctxFree(context)
            throw .call("SSL_CTX_use_certificate", message: library.drainErrors())
        }
        guard library.ctxUsePrivateKey(context, key) == 1 else {
            library.ctxFree(context)
            throw .call("SSL_CTX_use_PrivateKey", message: library.drainErrors())
        }
        // Returns 0 on success (unlike most of OpenSSL).
        guard library.ctxSetUseSRTP(context, Self.srtpProfiles) == 0 else {
            library.ctxFree(context)
            throw .call("SSL_CTX_set_tlsext_use_srtp", message: library.drainErrors())
        }
        // The peer's certificate is self-signed too: accept it here, and check its fingerprint after the handshake.
        library.ctxSetVerify(context, LibSSL.sslVerifyPeer | LibSSL.sslVerifyFailIfNoPeerCert, { _, _ in 1 })
        self.context = context
        guard let digest = Self.sha256(library, certificate) else {
            library.ctxFree(context)
            throw .call("X509_digest", message: library.drainErrors())
        }
        fingerprint = Self.format(digest)
    }

    deinit { library.ctxFree(context) }

    /// `AA:BB:…`, the SDP `a=fingerprint` form (RFC 8122 §5).
    public static func format(_ digest: [UInt8]) -> String {
        digest.map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    static func sha256(_ library: LibSSL, _ certificate: OpaquePointer) -> [UInt8]? {
        var digest = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        guard library.x509Digest(certificate, library.evpSHA256(), &digest, &length) == 1, length == 32 else { return nil }
        return Array(digest.prefix(Int(length)))
    }

    /// A fresh P-256 key (swift-crypto makes it; OpenSSL reads its PKCS#8 DER).
    private static func makeKey(_ library: LibSSL) throws(DTLSError) -> OpaquePointer {
        let der = [UInt8](P256.Signing.PrivateKey().derRepresentation)
        let key = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return library.d2iAutoPrivateKey(nil, &cursor, buffer.count)
        }
        guard let key else { throw .call("d2i_AutoPrivateKey", message: library.drainErrors()) }
        return key
    }

    private static func makeCertificate(_ library: LibSSL, key: OpaquePointer, validity: TimeInterval) throws(DTLSError) -> OpaquePointer {
        guard let certificate = library.x509New() else { throw .call("X509_new", message: library.drainErrors()) }
        var ok = library.x509SetVersion(certificate, 2) == 1
        ok = ok && library.asn1IntegerSet(library.x509SerialNumber(certificate), Int.random(in: 1...Int(Int32.max))) == 1
        // A day back, against peers whose clocks run behind.
        ok = ok && library.x509GmtimeAdj(library.x509NotBefore(certificate), -86_400) != nil
        ok = ok && library.x509GmtimeAdj(library.x509NotAfter(certificate), Int(validity)) != nil
        ok = ok && library.x509SetPubkey(certificate, key) == 1
        let name = library.x509SubjectName(certificate)
        let commonName = Array("liveloop".utf8)
        ok = ok && library.x509NameAddEntry(name, "CN", LibSSL.mbstringASC, commonName, Int32(commonName.count), -1, 0) == 1
        ok = ok && library.x509SetIssuerName(certificate, name) == 1
        ok = ok && library.x509Sign(certificate, key, library.evpSHA256()) > 0
        guard ok else {
            library.x509Free(certificate)
            throw .call("making the certificate", message: library.drainErrors())
        }
        return certificate
    }
}
