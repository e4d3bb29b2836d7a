import Foundation
import LiveMedia
import Storage

/// One recording as `recording.json` keeps it and the API shows it.
public struct RecordingInfo: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// Being written now.
        case recording
        /// Finished with its broadcast (or when `record` was switched off).
        case complete
        /// The server stopped without finishing it (a crash, `kill -9`): it plays up to its last whole segment.
        case interrupted
        /// A write failed (a full disk): it plays up to what was written.
        case failed
    }

    public var id: String
    public var channel: String
    /// The analytics id of the broadcast it records (`b` + its start in Unix ms): its interaction report.
    public var broadcastID: String
    public var state: State
    public var startedAt: Date
    public var endedAt: Date?
    /// Seconds of media its segments list.
    public var durationSeconds: Double
    public var bytes: Int
    public var segments: Int
    /// Where the recording starts on the broadcast's media timeline, seconds (the video's first `tfdt`).
    public var mediaStart: Double?
    /// Why it failed.
    public var error: String?
}

/// The recordings on disk: `DATA/recordings/CHANNEL/ID/` with `recording.json`, the media files, `segments.jsonl`,
/// `timeline.jsonl` and `cues.jsonl` (docs/recording.md). Every call does blocking file I/O: callers run it off the
/// event loops and the cooperative pool (``RecordingStore/offload(_:)``).
public struct RecordingStore: Sendable {
    public let root: URL

    public init(dataDirectory: String) {
        root = URL(fileURLWithPath: dataDirectory, isDirectory: true).appendingPathComponent("recordings", isDirectory: true)
    }

    /// Recording ids: the broadcast id, with `-2`, `-3`… for further recordings of the same broadcast.
    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64 && id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F
        }
    }

    public func folder(channel: String, id: String) -> URL {
        root.appendingPathComponent(channel, isDirectory: true).appendingPathComponent(id, isDirectory: true)
    }

    /// Makes the folder of a new recording of `broadcastID` and writes its `recording.json`.
    public func create(channel: String, broadcastID: String, startedAt: Date) throws -> RecordingInfo {
        let channelFolder = root.appendingPathComponent(channel, isDirectory: true)
        try FileManager.default.createDirectory(at: channelFolder, withIntermediateDirectories: true)
        var id = broadcastID
        var attempt = 1
        while true {
            do {
                try FileManager.default.createDirectory(at: channelFolder.appendingPathComponent(id), withIntermediateDirectories: false)
                break
            } catch CocoaError.fileWriteFileExists {
                attempt += 1
                guard attempt < 1000 else { throw CocoaError(.fileWriteFileExists) }
                id = "\(broadcastID)-\(attempt)"
            }
        }
        let info = RecordingInfo(id: id, channel: channel, broadcastID: broadcastID, state: .recording, startedAt: startedAt,
                                 endedAt: nil, durationSeconds: 0, bytes: 0, segments: 0, mediaStart: nil, error: nil)
        try save(info)
        return info
    }

    /// Writes `recording.json`: a new file renamed over the old one, or (`inPlace`, after a write failed on a full
    /// disk) over the old one's own blocks, which needs no free space.
    public func save(_ info: RecordingInfo, inPlace: Bool = false) throws {
        let data = try Self.encoder.encode(info)
        try data.write(to: folder(channel: info.channel, id: info.id).appendingPathComponent("recording.json"),
                       options: inPlace ? [] : .atomic)
    }

    /// A recording; one being written gets its duration, size and segment count from its index so far.
    public func info(channel: String, id: String) -> RecordingInfo? {
        guard Self.isValidID(id), Channel.isValidName(channel) else { return nil }
        let folder = folder(channel: channel, id: id)
        guard let data = try? Data(contentsOf: folder.appendingPathComponent("recording.json")),
              var info = try? Self.decoder.decode(RecordingInfo.self, from: data) else { return nil }
        if info.state == .recording { info = withProgress(info) }
        return info
    }

    /// A channel's recordings, newest first.
    public func list(channel: String) -> [RecordingInfo] {
        guard Channel.isValidName(channel) else { return [] }
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(channel).path)) ?? []
        return ids.compactMap { info(channel: channel, id: $0) }.sorted { ($0.startedAt, $0.id) > ($1.startedAt, $1.id) }
    }

    /// Every recording of every channel (retention, recovery).
    public func all() -> [RecordingInfo] {
        let channels = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return channels.flatMap { list(channel: $0) }
    }

    /// Removes a recording's folder; false when there was none.
    @discardableResult
    public func delete(channel: String, id: String) -> Bool {
        guard Self.isValidID(id), Channel.isValidName(channel) else { return false }
        let folder = folder(channel: channel, id: id)
        guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("recording.json").path) else { return false }
        return (try? FileManager.default.removeItem(at: folder)) != nil
    }

    public func segments(channel: String, id: String) -> [RecordedSegment] {
        read(channel, id, "segments.jsonl").map { JSONLines.decode(RecordedSegment.self, from: $0) } ?? []
    }

    public func cues(channel: String, id: String) -> [RecordedCue] {
        read(channel, id, "cues.jsonl").map { JSONLines.decode(RecordedCue.self, from: $0) } ?? []
    }

    /// The replay timeline: each complete line of `timeline.jsonl` (a `{"t": mediaTime, "m": message}` object).
    public func timelineLines(channel: String, id: String) -> [Data] {
        read(channel, id, "timeline.jsonl").map { JSONLines.lines(in: $0) } ?? []
    }

    /// The path of one of a recording's media files, if it exists.
    public func mediaPath(channel: String, id: String, file: String) -> String? {
        guard Self.isValidID(id), Channel.isValidName(channel), Self.isMediaFileName(file) else { return nil }
        let path = folder(channel: channel, id: id).appendingPathComponent(file).path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// `media0.mp4`, `media1.mp4`…: the only names the media route serves.
    static func isMediaFileName(_ name: String) -> Bool {
        guard name.hasPrefix("media"), name.hasSuffix(".mp4") else { return false }
        let number = name.dropFirst(5).dropLast(4)
        return !number.isEmpty && number.count <= 6 && number.allSatisfy(\.isASCII) && number.allSatisfy(\.isNumber)
    }

    /// `info` with the figures its index gives now.
    public func withProgress(_ info: RecordingInfo) -> RecordingInfo {
        var info = info
        let segments = segments(channel: info.channel, id: info.id)
        info.segments = segments.count
        info.durationSeconds = (segments.reduce(0) { $0 + $1.duration } * 1000).rounded() / 1000
        info.mediaStart = segments.first?.mediaTime
        let files = Set(segments.map(\.file))
        info.bytes = files.reduce(0) { total, file in
            let path = folder(channel: info.channel, id: info.id).appendingPathComponent(file).path
            return total + ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
        }
        return info
    }

    private func read(_ channel: String, _ id: String, _ name: String) -> Data? {
        guard Self.isValidID(id), Channel.isValidName(channel) else { return nil }
        return try? Data(contentsOf: folder(channel: channel, id: id).appendingPathComponent(name))
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}
