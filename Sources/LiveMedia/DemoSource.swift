import Foundation
import Logging
import MediaFormats
import NIOCore

/// The built-in demo: a ten-second H.264/AAC clip, shipped with the binary, published in a loop at real-time pace, so
/// a newcomer sees live video without OBS. Each loop continues the timeline where the last one ended.
public struct DemoSource: Sendable {
    public let events: [(timestamp: Int64, event: IngestEvent)]
    /// Length of one loop, 90 kHz.
    public let loopDuration: Int64

    public enum LoadError: Error { case missingResource }

    /// Loads the bundled clip.
    public init() throws {
        guard let url = Bundle.module.url(forResource: "demo", withExtension: "flv") else { throw LoadError.missingResource }
        try self.init(flv: ByteBuffer(bytes: try Data(contentsOf: url)))
    }

    /// Reads any FLV with H.264 and AAC (also used by the benchmarks to publish the same clip).
    public init(flv: ByteBuffer) throws {
        let file = try FLVFileReader(flv)
        var events: [(Int64, IngestEvent)] = []
        var lastVideo: Int64 = 0
        var previousVideo: Int64 = 0
        for tag in file.tags {
            let ts = Int64(tag.timestamp) * 90
            switch tag.type {
            case 9:
                switch try FLVTagBody.video(tag.body) {
                case let .avcSequenceHeader(record):
                    events.append((ts, .videoConfiguration(record)))
                case let .avcNALUnits(isKeyframe, ct, data):
                    events.append((ts, .frame(MediaFrame(track: .video, pts: ts + Int64(ct) * 90, dts: ts, isKeyframe: isKeyframe, data: data))))
                    previousVideo = lastVideo
                    lastVideo = ts
                default:
                    break
                }
            case 8:
                switch try FLVTagBody.audio(tag.body) {
                case let .aacSequenceHeader(config):
                    events.append((ts, .audioConfiguration(config)))
                case let .aacFrame(data):
                    events.append((ts, .frame(MediaFrame(track: .audio, pts: ts, dts: ts, isKeyframe: true, data: data))))
                default:
                    break
                }
            default:
                break
            }
        }
        self.events = events
        self.loopDuration = lastVideo + max(1, lastVideo - previousVideo)
    }

    /// Publishes into `broadcast` until the task is cancelled.
    public func run(into broadcast: Broadcast) async {
        let clock = ContinuousClock()
        let start = clock.now
        var loop: Int64 = 0
        while !Task.isCancelled {
            let offset = loop * loopDuration
            for (timestamp, event) in events {
                if loop > 0, case .videoConfiguration = event { continue }
                if loop > 0, case .audioConfiguration = event { continue }
                let due = start + .microseconds((offset + timestamp) * 1_000_000 / 90_000)
                if due > clock.now {
                    try? await clock.sleep(until: due)
                }
                if Task.isCancelled { return }
                switch event {
                case var .frame(frame):
                    frame.dts += offset
                    frame.pts += offset
                    broadcast.ingest(.frame(frame), now: Date())
                default:
                    broadcast.ingest(event, now: Date())
                }
            }
            loop += 1
        }
    }
}
