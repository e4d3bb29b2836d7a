import Crypto
import Foundation

/// Random secrets and their stored form. Keys are 160 random bits, shown once, kept only as SHA-256 hashes (a fast
/// hash is enough for secrets of that entropy) and compared in constant time.
public enum Secrets {
    /// A new secret: `prefix` followed by 40 hex digits.
    public static func generate(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<20).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// A new public identifier (not a secret): `prefix` followed by 16 hex digits.
    public static func generateID(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        return prefix + (0..<8).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
    }

    public static func hash(_ secret: String) -> Data {
        Data(SHA256.hash(data: Data(secret.utf8)))
    }

    /// Compares two byte strings in time that depends only on their length.
    public static func constantTimeEquals(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
