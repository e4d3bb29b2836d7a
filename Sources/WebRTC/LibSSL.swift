#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The OpenSSL 3 functions DTLS-SRTP needs, bound at run time with `dlopen`/`dlsym` from the system's `libssl.so.3`
/// and `libcrypto.so.3`, so that building needs only the toolchain and a server without them still runs everything
/// else (WebRTC says so once). Every pointer is opaque: we only pass OpenSSL's objects back to OpenSSL.
///
/// Signatures are those of OpenSSL 3.0's headers; the macros we need (`DTLSv1_handle_timeout`, `SSL_set_mtu`,
/// `BIO_ctrl_pending`) are spelled as the `SSL_ctrl`/`BIO_ctrl` calls they expand to.
public final class LibSSL: @unchecked Sendable {
    // @unchecked: every stored property is a C function pointer written once in `init` and never changed.
    typealias P = OpaquePointer
    typealias VerifyCallback = @convention(c) (Int32, P?) -> Int32

    let dtlsServerMethod: @convention(c) () -> P?
    let dtlsClientMethod: @convention(c) () -> P?
    let ctxNew: @convention(c) (P?) -> P?
    let ctxFree: @convention(c) (P?) -> Void
    let ctxUseCertificate: @convention(c) (P?, P?) -> Int32
    let ctxUsePrivateKey: @convention(c) (P?, P?) -> Int32
    let ctxSetUseSRTP: @convention(c) (P?, UnsafePointer<CChar>?) -> Int32
    let ctxSetVerify: @convention(c) (P?, Int32, VerifyCallback?) -> Void
    let sslNew: @convention(c) (P?) -> P?
    let sslFree: @convention(c) (P?) -> Void
    let sslSetBIO: @convention(c) (P?, P?, P?) -> Void
    let sslSetAcceptState: @convention(c) (P?) -> Void
    let sslSetConnectState: @convention(c) (P?) -> Void
    let sslDoHandshake: @convention(c) (P?) -> Int32
    let sslGetError: @convention(c) (P?, Int32) -> Int32
    let sslRead: @convention(c) (P?, UnsafeMutableRawPointer?, Int32) -> Int32
    let sslCtrl: @convention(c) (P?, Int32, Int, UnsafeMutableRawPointer?) -> Int
    let sslSetOptions: @convention(c) (P?, UInt64) -> UInt64
    let sslExportKeyingMaterial: @convention(c) (P?, UnsafeMutablePointer<UInt8>?, Int, UnsafePointer<CChar>?, Int,
                                                 UnsafePointer<UInt8>?, Int, Int32) -> Int32
    let sslSelectedSRTPProfile: @convention(c) (P?) -> UnsafeMutableRawPointer?
    let sslPeerCertificate: @convention(c) (P?) -> P?
    let bioSMem: @convention(c) () -> P?
    let bioNew: @convention(c) (P?) -> P?
    let bioWrite: @convention(c) (P?, UnsafeRawPointer?, Int32) -> Int32
    let bioRead: @convention(c) (P?, UnsafeMutableRawPointer?, Int32) -> Int32
    let bioCtrl: @convention(c) (P?, Int32, Int, UnsafeMutableRawPointer?) -> Int
    let x509New: @convention(c) () -> P?
    let x509Free: @convention(c) (P?) -> Void
    let x509SetVersion: @convention(c) (P?, Int) -> Int32
    let x509SerialNumber: @convention(c) (P?) -> P?
    let asn1IntegerSet: @convention(c) (P?, Int) -> Int32
    let x509NotBefore: @convention(c) (P?) -> P?
    let x509NotAfter: @convention(c) (P?) -> P?
    let x509GmtimeAdj: @convention(c) (P?, Int) -> P?
    let x509SetPubkey: @convention(c) (P?, P?) -> Int32
    let x509SubjectName: @convention(c) (P?) -> P?
    let x509NameAddEntry: @convention(c) (P?, UnsafePointer<CChar>?, Int32, UnsafePointer<UInt8>?, Int32, Int32, Int32) -> Int32
    let x509SetIssuerName: @convention(c) (P?, P?) -> Int32
    let x509Sign: @convention(c) (P?, P?, P?) -> Int32
    let x509Digest: @convention(c) (P?, P?, UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt32>?) -> Int32
    let evpSHA256: @convention(c) () -> P?
    let d2iAutoPrivateKey: @convention(c) (UnsafeMutablePointer<P?>?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, Int) -> P?
    let evpPKeyFree: @convention(c) (P?) -> Void
    let errGetError: @convention(c) () -> UInt
    let errErrorString: @convention(c) (UInt, UnsafeMutablePointer<CChar>?, Int) -> Void
    /// `OpenSSL_version(OPENSSL_VERSION)`.
    let version: @convention(c) (Int32) -> UnsafePointer<CChar>?

    private static let placeholder: @convention(c) () -> Void = {}

    public static let libraryNames = (ssl: "libssl.so.3", crypto: "libcrypto.so.3")

    /// The libraries, loaded on first use; nil where the system has no OpenSSL 3.
    public static let shared: LibSSL? = LibSSL()

    private init?() {
        guard let ssl = dlopen(Self.libraryNames.ssl, RTLD_NOW | RTLD_LOCAL) else { return nil }
        guard let crypto = dlopen(Self.libraryNames.crypto, RTLD_NOW | RTLD_LOCAL) else {
            dlclose(ssl)
            return nil
        }
        var missing = false
        func bind<T>(_ handle: UnsafeMutableRawPointer, _ name: String, _ type: T.Type) -> T {
            guard let pointer = dlsym(handle, name) else {
                missing = true
                // A placeholder never called: `init` fails below when any symbol is missing.
                return unsafeBitCast(LibSSL.placeholder, to: type)
            }
            return unsafeBitCast(pointer, to: type)
        }
        dtlsServerMethod = bind(ssl, "DTLS_server_method", (@convention(c) () -> P?).self)
        dtlsClientMethod = bind(ssl, "DTLS_client_method", (@convention(c) () -> P?).self)
        ctxNew = bind(ssl, "SSL_CTX_new", (@convention(c) (P?) -> P?).self)
        ctxFree = bind(ssl, "SSL_CTX_free", (@convention(c) (P?) -> Void).self)
        ctxUseCertificate = bind(ssl, "SSL_CTX_use_certificate", (@convention(c) (P?, P?) -> Int32).self)
        ctxUsePrivateKey = bind(ssl, "SSL_CTX_use_PrivateKey", (@convention(c) (P?, P?) -> Int32).self)
        ctxSetUseSRTP = bind(ssl, "SSL_CTX_set_tlsext_use_srtp", (@convention(c) (P?, UnsafePointer<CChar>?) -> Int32).self)
        ctxSetVerify = bind(ssl, "SSL_CTX_set_verify", (@convention(c) (P?, Int32, VerifyCallback?) -> Void).self)
        sslNew = bind(ssl, "SSL_new", (@convention(c) (P?) -> P?).self)
        sslFree = bind(ssl, "SSL_free", (@convention(c) (P?) -> Void).self)
        sslSetBIO = bind(ssl, "SSL_set_bio", (@convention(c) (P?, P?, P?) -> Void).self)
        sslSetAcceptState = bind(ssl, "SSL_set_accept_state", (@convention(c) (P?) -> Void).self)
        sslSetConnectState = bind(ssl, "SSL_set_connect_state", (@convention(c) (P?) -> Void).self)
        sslDoHandshake = bind(ssl, "SSL_do_handshake", (@convention(c) (P?) -> Int32).self)
        sslGetError = bind(ssl, "SSL_get_error", (@convention(c) (P?, Int32) -> Int32).self)
        sslRead = bind(ssl, "SSL_read", (@convention(c) (P?, UnsafeMutableRawPointer?, Int32) -> Int32).self)
        sslCtrl = bind(ssl, "SSL_ctrl", (@convention(c) (P?, Int32, Int, UnsafeMutableRawPointer?) -> Int).self)
        sslSetOptions = bind(ssl, "SSL_set_options", (@convention(c) (P?, UInt64) -> UInt64).self)
        sslExportKeyingMaterial = bind(ssl, "SSL_export_keying_material", (@convention(c) (
            P?, UnsafeMutablePointer<UInt8>?, Int, UnsafePointer<CChar>?, Int, UnsafePointer<UInt8>?, Int, Int32
        ) -> Int32).self)
        sslSelectedSRTPProfile = bind(ssl, "SSL_get_selected_srtp_profile", (@convention(c) (P?) -> UnsafeMutableRawPointer?).self)
        sslPeerCertificate = bind(ssl, "SSL_get1_peer_certificate", (@convention(c) (P?) -> P?).self)
        bioSMem = bind(crypto, "BIO_s_mem", (@convention(c) () -> P?).self)
        bioNew = bind(crypto, "BIO_new", (@convention(c) (P?) -> P?).self)
        bioWrite = bind(crypto, "BIO_write", (@convention(c) (P?, UnsafeRawPointer?, Int32) -> Int32).self)
        bioRead = bind(crypto, "BIO_read", (@convention(c) (P?, UnsafeMutableRawPointer?, Int32) -> Int32).self)
        bioCtrl = bind(crypto, "BIO_ctrl", (@convention(c) (P?, Int32, Int, UnsafeMutableRawPointer?) -> Int).self)
        x509New = bind(crypto, "X509_new", (@convention(c) () -> P?).self)
        x509Free = bind(crypto, "X509_free", (@convention(c) (P?) -> Void).self)
        x509SetVersion = bind(crypto, "X509_set_version", (@convention(c) (P?, Int) -> Int32).self)
        x509SerialNumber = bind(crypto, "X509_get_serialNumber", (@convention(c) (P?) -> P?).self)
        asn1IntegerSet = bind(crypto, "ASN1_INTEGER_set", (@convention(c) (P?, Int) -> Int32).self)
        x509NotBefore = bind(crypto, "X509_getm_notBefore", (@convention(c) (P?) -> P?).self)
        x509NotAfter = bind(crypto, "X509_getm_notAfter", (@convention(c) (P?) -> P?).self)
        x509GmtimeAdj = bind(crypto, "X509_gmtime_adj", (@convention(c) (P?, Int) -> P?).self)
        x509SetPubkey = bind(crypto, "X509_set_pubkey", (@convention(c) (P?, P?) -> Int32).self)
        x509SubjectName = bind(crypto, "X509_get_subject_name", (@convention(c) (P?) -> P?).self)
        x509NameAddEntry = bind(crypto, "X509_NAME_add_entry_by_txt", (@convention(c) (
            P?, UnsafePointer<CChar>?, Int32, UnsafePointer<UInt8>?, Int32, Int32, Int32
        ) -> Int32).self)
        x509SetIssuerName = bind(crypto, "X509_set_issuer_name", (@convention(c) (P?, P?) -> Int32).self)
        x509Sign = bind(crypto, "X509_sign", (@convention(c) (P?, P?, P?) -> Int32).self)
        x509Digest = bind(crypto, "X509_digest", (@convention(c) (
            P?, P?, UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt32>?
        ) -> Int32).self)
        evpSHA256 = bind(crypto, "EVP_sha256", (@convention(c) () -> P?).self)
        d2iAutoPrivateKey = bind(crypto, "d2i_AutoPrivateKey", (@convention(c) (
            UnsafeMutablePointer<P?>?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, Int
        ) -> P?).self)
        evpPKeyFree = bind(crypto, "EVP_PKEY_free", (@convention(c) (P?) -> Void).self)
        errGetError = bind(crypto, "ERR_get_error", (@convention(c) () -> UInt).self)
        errErrorString = bind(crypto, "ERR_error_string_n", (@convention(c) (UInt, UnsafeMutablePointer<CChar>?, Int) -> Void).self)
        version = bind(crypto, "OpenSSL_version", (@convention(c) (Int32) -> UnsafePointer<CChar>?).self)
        if missing {
            dlclose(crypto)
            dlclose(ssl)
            return nil
        }
    }

    /// OpenSSL's version line, e.g. "OpenSSL 3.0.19 27 Jan 2026".
    public var versionString: String { version(0).map { String(cString: $0) } ?? "OpenSSL 3" }

    /// Empties this thread's OpenSSL error queue and returns its first message: one line for a log.
    func drainErrors() -> String {
        var first: String?
        while case let code = errGetError(), code != 0 {
            if first == nil {
                var buffer = [CChar](repeating: 0, count: 256)
                errErrorString(code, &buffer, buffer.count)
                first = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        return first ?? "no OpenSSL error recorded"
    }

    // Constants from ssl.h / bio.h (stable across OpenSSL 1.1 and 3).
    static let sslVerifyPeer: Int32 = 0x01
    static let sslVerifyFailIfNoPeerCert: Int32 = 0x02
    static let sslErrorWantRead: Int32 = 2
    static let sslErrorWantWrite: Int32 = 3
    static let sslErrorZeroReturn: Int32 = 6
    static let sslCtrlSetMTU: Int32 = 17
    static let dtlsCtrlHandleTimeout: Int32 = 74
    static let sslOpNoQueryMTU: UInt64 = 0x0000_1000
    static let bioCtrlPending: Int32 = 10
    static let mbstringASC: Int32 = 0x1001
}
