import Foundation
import LiveloopServer

/// A certificate authority and server certificates made at test time with the `openssl` command, in a temporary
/// directory: `ca.pem` is what clients trust, each `issue` writes a server certificate for localhost and 127.0.0.1.
struct TestCertificates {
    let directory: String
    var caFile: String { directory + "/ca.pem" }

    static var haveOpenSSL: Bool { Tools.path("openssl") != nil }

    static func make() async throws -> TestCertificates {
        let directory = NSTemporaryDirectory() + "liveloop-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let certificates = TestCertificates(directory: directory)
        try await certificates.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                        "-keyout", directory + "/ca.key", "-out", directory + "/ca.pem", "-days", "2",
                                        "-subj", "/CN=Liveloop Test CA"])
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: directory + "/san.cnf", atomically: true, encoding: .utf8)
        return certificates
    }

    /// Issues a server certificate with `serial` (hex) signed by the test CA; returns its files, named after the serial.
    func issue(serial: String) async throws -> TLSFiles {
        let key = "\(directory)/server-\(serial).key"
        let certificate = "\(directory)/server-\(serial).pem"
        try await openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                           "-out", "\(directory)/server-\(serial).csr", "-subj", "/CN=localhost"])
        try await openssl(["x509", "-req", "-in", "\(directory)/server-\(serial).csr", "-CA", caFile, "-CAkey", directory + "/ca.key",
                           "-set_serial", "0x" + serial, "-days", "2", "-extfile", directory + "/san.cnf", "-out", certificate])
        return TLSFiles(certificate: certificate, key: key)
    }

    /// The base64 SHA-256 of a certificate's public key, as Chromium's `--ignore-certificate-errors-spki-list` takes it.
    func spkiHash(of files: TLSFiles) async throws -> String {
        let (status, out, err) = try await Tools.output("sh", ["-c",
            "openssl x509 -in '\(files.certificate)' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"])
        guard status == 0 else { throw Failure(message: "spki hash: \(err)") }
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    private func openssl(_ arguments: [String]) async throws {
        let (status, _, err) = try await Tools.output("openssl", arguments)
        guard status == 0 else { throw Failure(message: "openssl \(arguments.first ?? ""): \(err)") }
    }

    struct Failure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
