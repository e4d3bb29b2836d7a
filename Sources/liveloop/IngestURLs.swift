/// The ingest URLs `liveloop channels` prints, and what in them is a guess. The host is `--public-host` or the server
/// configuration file's `public-host` when either is given, else this machine's name; a port not given (nor set in
/// the file) is the server's default. A guessed host is the usual mistake (`rtmp://vm:1935/live` printed on a machine
/// encoders cannot reach by that name), so `guessNote` says plainly what was guessed and how to give it.
struct IngestURLs: Sendable, Equatable {
    static let defaultRTMPPort = 1935
    static let defaultRTMPSPort = 1936
    static let defaultSRTPort = 9000

    var rtmp: String
    var rtmps: String?
    /// `srt://HOST:PORT`, without the stream id.
    var srtBase: String
    var hostIsGuessed: Bool
    /// What is guessed and how to say it instead; nil when nothing is.
    var guessNote: String?

    /// `host` when given (by --public-host or the configuration file); the ports when given, nil for the defaults.
    init(host: String?, machine: String, rtmpPort: Int?, srtPort: Int?, rtmpsPort: Int?) {
        let name = host ?? machine
        let bracketed = name.contains(":") && !name.hasPrefix("[") ? "[\(name)]" : name
        rtmp = "rtmp://\(bracketed):\(rtmpPort ?? Self.defaultRTMPPort)/live"
        rtmps = rtmpsPort.map { "rtmps://\(bracketed):\($0)/live" }
        srtBase = "srt://\(bracketed):\(srtPort ?? Self.defaultSRTPort)"
        hostIsGuessed = host == nil
        guard host == nil else {
            // A named host: the ports given, or the server's defaults (a configuration file that sets none leaves the
            // server on them too).
            guessNote = nil
            return
        }
        var guessed = ["the host (\(machine) is this machine's name)"]
        if rtmpPort == nil { guessed.append("the RTMP port (the default \(Self.defaultRTMPPort))") }
        if srtPort == nil { guessed.append("the SRT port (the default \(Self.defaultSRTPort))") }
        guessNote = "these ingest URLs are a guess: \(guessed.joined(separator: ", ")). Give the server's own with "
            + "--public-host HOST (and --rtmp-port, --srt-port) or LIVELOOP_PUBLIC_HOST, or --config with the server's configuration file."
    }

    /// The SRT URL an encoder dials: the stream key in `streamid` when it is known.
    func srt(streamKey: String?) -> String {
        streamKey.map { "\(srtBase)?streamid=\($0)" } ?? srtBase
    }
}
