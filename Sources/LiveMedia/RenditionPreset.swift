/// A rung of the adaptive-bitrate ladder a channel can ask for by name (`--renditions 720p,480p,360p`).
///
/// Heights follow the usual 16:9 ladder; a source with another aspect ratio keeps it (the width follows the height).
/// Bitrates are what the transcoder aims at, in bits per second.
public struct RenditionPreset: Sendable, Equatable, Hashable {
    public var name: String
    public var width: Int
    public var height: Int
    public var videoBitrate: Int
    public var audioBitrate: Int

    /// Every preset, highest first.
    public static let all: [RenditionPreset] = [
        RenditionPreset(name: "1080p", width: 1920, height: 1080, videoBitrate: 5_000_000, audioBitrate: 128_000),
        RenditionPreset(name: "720p", width: 1280, height: 720, videoBitrate: 2_800_000, audioBitrate: 128_000),
        RenditionPreset(name: "480p", width: 854, height: 480, videoBitrate: 1_400_000, audioBitrate: 96_000),
        RenditionPreset(name: "360p", width: 640, height: 360, videoBitrate: 800_000, audioBitrate: 96_000),
        RenditionPreset(name: "240p", width: 426, height: 240, videoBitrate: 400_000, audioBitrate: 64_000),
    ]

    /// The most renditions a channel may ask for besides its source.
    public static let maximumPerChannel = 4

    public static func named(_ name: String) -> RenditionPreset? { all.first { $0.name == name } }

    /// Validates a requested ladder and returns it highest first; the error message names what is wrong.
    public static func ladder(_ names: [String]) -> Result<[RenditionPreset], LadderError> {
        var presets: [RenditionPreset] = []
        for name in names {
            guard let preset = named(name) else { return .failure(.unknown(name)) }
            guard !presets.contains(preset) else { return .failure(.duplicate(name)) }
            presets.append(preset)
        }
        guard presets.count <= maximumPerChannel else { return .failure(.tooMany(presets.count)) }
        return .success(presets.sorted { $0.height > $1.height })
    }

    public enum LadderError: Error, Sendable, Equatable, CustomStringConvertible {
        case unknown(String)
        case duplicate(String)
        case tooMany(Int)

        public var description: String {
            switch self {
            case .unknown(let name):
                "unknown rendition \"\(name)\"; known: \(RenditionPreset.all.map(\.name).joined(separator: ", "))"
            case .duplicate(let name): "rendition \"\(name)\" is listed twice"
            case .tooMany(let count): "\(count) renditions asked for; at most \(RenditionPreset.maximumPerChannel)"
            }
        }
    }
}
