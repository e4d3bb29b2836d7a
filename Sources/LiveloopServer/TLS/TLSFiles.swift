import Foundation
import NIOSSL

/// Where the server's certificate chain and private key are: PEM files, as `--tls-cert` and `--tls-key` name them.
/// The certificate file holds the server's certificate first, then any intermediates.
public struct TLSFiles: Sendable, Equatable {
    public var certificate: String
    public var key: String

    public init(certificate: String, key: String) {
        self.certificate = certificate
        self.key = key
    }

    /// PEM files are a few KiB; anything past this is not a certificate and is not read into memory.
    static let maximumFileBytes = 1 << 20

    /// Reads both files and builds the TLS context every accepted connection is made from.
    func load() throws(TLSError) -> (context: NIOSSLContext, certificate: CertificateSummary) {
        let chainBytes = try Self.read(certificate, option: "--tls-cert")
        let keyBytes = try Self.read(key, option: "--tls-key")
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(chainBytes)
        } catch {
            throw .noCertificate(path: certificate)
        }
        guard let leaf = chain.first else { throw .noCertificate(path: certificate) }
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem)
        } catch {
            throw .noPrivateKey(path: key)
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey)
        )
        configuration.minimumTLSVersion = .tlsv12
        do {
            let context = try NIOSSLContext(configuration: configuration)
            return (context, CertificateSummary(leaf))
        } catch {
            // BoringSSL checks the key against the certificate when the context takes them.
            throw .keyMismatch(certificate: certificate, key: key)
        }
    }

    private static func read(_ path: String, option: String) throws(TLSError) -> [UInt8] {
        let url = URL(fileURLWithPath: path)
        let size: Int
        do {
            size = try url.resourceValues(forKeys: [.fileSizeKey]).fileSize ?? 0
        } catch {
            throw .unreadable(option: option, path: path, reason: "no such file, or it cannot be read")
        }
        guard size <= maximumFileBytes else {
            throw .unreadable(option: option, path: path, reason: "over \(maximumFileBytes) bytes: not a PEM file")
        }
        do {
            return Array(try Data(contentsOf: url))
        } catch {
            throw .unreadable(option: option, path: path, reason: "it cannot be read (\(error.localizedDescription))")
        }
    }
}

/// What the logs say about a loaded certificate: enough to tell which one is in use, nothing secret.
public struct CertificateSummary: Sendable, Equatable, CustomStringConvertible {
    /// The serial number in hex, as `openssl x509 -serial` prints it.
    public var serial: String
    public var notValidAfter: Date

    init(_ certificate: NIOSSLCertificate) {
        serial = certificate.serialNumber.map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
        notValidAfter = Date(timeIntervalSince1970: TimeInterval(certificate.notValidAfter))
    }

    public var description: String {
        "serial \(serial), valid until \(notValidAfter.formatted(.iso8601))"
    }
}

/// Why the certificate or key could not be used; each case is one line a person can act on.
public enum TLSError: Error, CustomStringConvertible, Equatable {
    case unreadable(option: String, path: String, reason: String)
    case noCertificate(path: String)
    case noPrivateKey(path: String)
    case keyMismatch(certificate: String, key: String)

    public var description: String {
        switch self {
        case let .unreadable(option, path, reason):
            "\(option) \(path): \(reason)"
        case let .noCertificate(path):
            "--tls-cert \(path): no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)"
        case let .noPrivateKey(path):
            "--tls-key \(path): no unencrypted PEM private key in it (expected -----BEGIN PRIVATE KEY----- or an RSA/EC key; a passphrase-protected key is not supported)"
        case let .keyMismatch(certificate, key):
            "--tls-key \(key) does not belong to the certificate in --tls-cert \(certificate)"
        }
    }
}
