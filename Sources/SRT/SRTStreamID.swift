/// What a caller's SRT `streamid` asks for. Two forms are accepted: a plain stream key (`KEY`, or `live/KEY`), and the
/// access-control syntax of the SRT specification (draft-sharabayko-srt §3.2.1.3.1, "#!::" followed by comma-separated
/// `key=value` pairs) where `r` is the resource (`live/KEY` or `KEY`) and `m` the mode, which must be `publish` when
/// given. Anything else (`m=request`, no resource, an over-long id) is refused.
public struct SRTStreamID: Sendable, Equatable {
    public var streamKey: String

    /// libsrt's own cap on `SRTO_STREAMID`.
    public static let maximumLength = 512

    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= Self.maximumLength else { return nil }
        var resource = text
        if text.hasPrefix("#!::") {
            var fields: [String: String] = [:]
            for pair in text.dropFirst(4).split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { return nil }
                fields[String(parts[0]).trimmingSpaces] = String(parts[1]).trimmingSpaces
            }
            if let mode = fields["m"], mode != "publish" { return nil }
            guard let r = fields["r"] else { return nil }
            resource = r
        }
        let key = resource.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? ""
        guard !key.isEmpty, key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        streamKey = key
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
