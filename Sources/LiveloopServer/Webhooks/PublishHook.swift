import Foundation
import Logging
import NIOCore

/// The admission hook (`--publish-hook URL`): before a publish with an accepted stream key starts, over RTMP or SRT,
/// the server POSTs `{"channel", "protocol", "remoteAddress"}` to the URL, signed like a webhook
/// (`Liveloop-Signature` with `--publish-hook-secret`). Only a 2xx answer whose JSON body has `"allow": true` lets the
/// publish go on; any other answer, an error, or no answer within the timeout refuses it, with one log line (a
/// hook that is down keeps everyone off air rather than letting everyone on).
struct PublishHook: Sendable {
    let url: String
    let secret: String
    let timeout: Duration
    let http: WebhookHTTP
    let logger: Logger

    struct Question: Encodable {
        var channel: String
        var `protocol`: String
        var remoteAddress: String
    }

    struct Answer: Decodable {
        var allow: Bool?
    }

    /// Whether the hook lets `channel` go live from `remote` over `ingest` ("RTMP", "SRT").
    func allows(channel: String, ingest: String, remote: String) async -> Bool {
        let body = (try? JSONEncoder().encode(Question(channel: channel, protocol: ingest.lowercased(), remoteAddress: remote))) ?? Data()
        let metadata: Logger.Metadata = ["channel": "\(channel)", "remote": "\(remote)"]
        do {
            // The operator's own hook: the private-address rule for webhooks does not apply to it.
            let answer = try await http.post(url: url, body: body, secret: secret, timeout: timeout, checkAddresses: false)
            guard (200..<300).contains(answer.status) else {
                logger.info("\(ingest) publish refused by the publish hook", metadata: metadata.merging(["status": "\(answer.status)"]) { $1 })
                return false
            }
            let decoded = try? JSONDecoder().decode(Answer.self, from: Data(answer.body.readableBytesView))
            guard decoded?.allow == true else {
                logger.info("\(ingest) publish refused by the publish hook", metadata: metadata)
                return false
            }
            return true
        } catch {
            logger.warning("\(ingest) publish refused: the publish hook did not answer (\(error))", metadata: metadata)
            return false
        }
    }
}
