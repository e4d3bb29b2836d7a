import Crypto
import Foundation
import Storage

/// The `Liveloop-Signature` header of a webhook delivery or a publish-hook request: `t=UNIX,v1=HEX`, where HEX is
/// HMAC-SHA256, keyed with the webhook's secret, of the ASCII text `UNIX.` followed by the exact body bytes.
/// Signing the timestamp with the body lets a receiver refuse a replayed request (an old `t`) as well as a forged one.
public enum WebhookSignature {
    public static let headerName = "Liveloop-Signature"

    /// The header value for `body` sent at `timestamp` (Unix seconds).
    public static func header(body: Data, secret: String, timestamp: Int64) -> String {
        "t=\(timestamp),v1=\(hex(mac(body: body, secret: secret, timestamp: timestamp)))"
    }

    /// Whether `header` is a valid signature of `body` made within `tolerance` seconds of `now`. What a receiver does;
    /// the server uses it only in tests and documents it in docs/webhooks.md.
    public static func verify(header: String, body: Data, secret: String, now: Int64, tolerance: Int64 = 300) -> Bool {
        var timestamp: Int64?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = Int64(pair[1]) }
            if pair[0] == "v1" { signatures.append(pair[1].lowercased()) }
        }
        guard let timestamp, abs(now - timestamp) <= tolerance else { return false }
        let expected = Data(hex(mac(body: body, secret: secret, timestamp: timestamp)).utf8)
        return signatures.contains { Secrets.constantTimeEquals(Data($0.utf8), expected) }
    }

    private static func mac(body: Data, secret: String, timestamp: Int64) -> HashedAuthenticationCode<SHA256> {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        hmac.update(data: Data("\(timestamp).".utf8))
        hmac.update(data: body)
        return hmac.finalize()
    }

    private static func hex(_ code: HashedAuthenticationCode<SHA256>) -> String {
        code.map { String(format: "%02x", $0) }.joined()
    }
}
