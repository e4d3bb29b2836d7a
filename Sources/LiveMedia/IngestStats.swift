import DequeModule
import Foundation
import MediaFormats
import NIOCore

/// Rolling measurements of what a publisher sends: bitrate, frame rate and keyframe interval over the last few seconds.
public struct IngestStats: Sendable {
    public private(set) var bytesIn: Int = 0
    public private(set) var videoFrames: Int = 0
    public private(set) var audioFrames: Int = 0
    public private(set) var peakBitrate: Int = 0
    public private(set) var keyframeInterval: Double?
    private var window: Deque<(time: Date, bytes: Int, video: Bool)> = []
    private var lastKeyframeDTS: Int64?
    private var windowBytes = 0
    private var windowVideoFrames = 0

    static let windowSeconds = 3.0

    public init() {}

    mutating func record(_ frame: MediaFrame, at now: Date) {
        let size = frame.data.readableBytes
        bytesIn += size
        if frame.track == .video {
            videoFrames += 1
            if frame.isKeyframe {
                if let last = lastKeyframeDTS, frame.dts > last {
                    keyframeInterval = Double(frame.dts - last) / Double(StreamClock.timescale)
                }
                lastKeyframeDTS = frame.dts
            }
        } else {
            audioFrames += 1
        }
        window.append((now, size, frame.track == .video))
        windowBytes += size
        windowVideoFrames += frame.track == .video ? 1 : 0
        while let first = window.first, now.timeIntervalSince(first.time) > Self.windowSeconds {
            window.removeFirst()
            windowBytes -= first.bytes
            windowVideoFrames -= first.video ? 1 : 0
        }
        if let bitrate { peakBitrate = max(peakBitrate, bitrate) }
    }

    mutating func reset() {
        window.removeAll()
        windowBytes = 0
        windowVideoFrames = 0
        lastKeyframeDTS = nil
    }

    private var span: Double? {
        guard let first = window.first, let last = window.last else { return nil }
        let span = last.time.timeIntervalSince(first.time)
        return span > 0.5 ? span : nil
    }

    /// Bits per second over the window.
    public var bitrate: Int? {
        guard let span else { return nil }
        return Int(Double(windowBytes) * 8 / span)
    }

    /// Video frames per second over the window.
    public var frameRate: Double? {
        guard let span else { return nil }
        return windowVideoFrames > 1 ? Double(windowVideoFrames - 1) / span : nil
    }
}
