import Foundation
import LiveMedia
import MediaFormats
import RTMP

/// Connects an RTMP publisher to its broadcast: turns RTMP media events into `IngestEvent`s (so `LiveMedia` needs no
/// RTMP) and reports the disconnect. SRT's counterpart is ``SRTIngest``.
struct RTMPIngest: RTMPPublishSink {
    let broadcast: Broadcast
    let registry: BroadcastRegistry

    init(broadcast: Broadcast, registry: BroadcastRegistry) {
        self.broadcast = broadcast
        self.registry = registry
    }

    func handle(_ event: RTMPMediaEvent) {
        let now = Date()
        switch event {
        case let .codec(.avc(record)):
            broadcast.ingest(.videoConfiguration(record), now: now)
        case let .codec(.aac(config)):
            broadcast.ingest(.audioConfiguration(config), now: now)
        case let .frame(frame):
            broadcast.ingest(.frame(frame), now: now)
        case let .metadata(properties):
            var values: [String: String] = [:]
            for (key, value) in properties.prefix(64) {
                switch value {
                case let .number(n): values[key] = n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
                case let .string(s): values[key] = String(s.prefix(256))
                case let .boolean(b): values[key] = String(b)
                default: break
                }
            }
            broadcast.ingest(.metadata(values), now: now)
        }
    }

    func publisherDisconnected() {
        registry.publisherLeft(broadcast)
    }
}
