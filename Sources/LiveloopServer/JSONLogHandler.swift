import Foundation
import Logging
import Synchronization

/// How `liveloop serve` writes its log lines (`--log-format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// `2025-01-01T12:00:00+0000 info liveloop: key=value message`, swift-log's own format, client text escaped.
    case text
    /// One JSON object per line (see ``JSONLogHandler``).
    case json
}

/// A `LogHandler` that writes one JSON object per line:
/// `{"ts":"2025-01-01T12:00:00.123Z","level":"info","label":"liveloop","msg":"…","channel":"show","source":"LiveloopServer"}`.
///
/// `ts` is RFC 3339 in UTC with milliseconds; metadata entries are fields of the object (strings, arrays, objects),
/// after the handler's own metadata and its provider's; an entry whose key is one of the fixed fields is written as
/// `_key` so it cannot replace them; an attached error is the `error` field. Every string goes through
/// ``JSONLogLine/appendString(_:to:)``, which escapes every control character, so no client text (an RTMP command
/// name, a channel name) can end the line or start a forged one — the guarantee ``EscapingLogHandler`` gives the text
/// format.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    /// A handler that writes each line (with its newline) with `write`; ``standardError(label:)`` is the usual one.
    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    /// Writes to standard error, one `write(2)` per line under a lock, so lines from different threads never interleave.
    public static func standardError(label: String, metadataProvider: Logger.MetadataProvider? = nil) -> JSONLogHandler {
        JSONLogHandler(label: label, metadataProvider: metadataProvider) { line in
            StandardErrorLines.shared.write(line)
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let own = event.metadata { fields.merge(own) { _, new in new } }
        if let error = event.error { fields["error"] = .string("\(error)") }
        write(JSONLogLine.render(date: Date(), level: event.level, label: label, message: event.message.description,
                                 metadata: fields, source: event.source))
    }
}

/// The text of one JSON log line: a pure function, so its escaping is tested on its own.
public enum JSONLogLine {
    /// Fields every line has; metadata with one of these keys is written as `_key`.
    static let fixed: Set<String> = ["ts", "level", "label", "msg", "source"]

    public static func render(date: Date, level: Logger.Level, label: String, message: String,
                              metadata: Logger.Metadata, source: String) -> String {
        var out = "{\"ts\":\"" + timestamp(date) + "\",\"level\":\"" + level.rawValue + "\",\"label\":"
        appendString(label, to: &out)
        out += ",\"msg\":"
        appendString(message, to: &out)
        for key in metadata.keys.sorted() {
            guard let value = metadata[key] else { continue }
            out += ","
            appendString(fixed.contains(key) ? "_" + key : key, to: &out)
            out += ":"
            append(value, to: &out)
        }
        out += ",\"source\":"
        appendString(source, to: &out)
        out += "}\n"
        return out
    }

    static func append(_ value: Logger.MetadataValue, to out: inout String) {
        switch value {
        case let .string(text): appendString(text, to: &out)
        case let .stringConvertible(convertible): appendString(convertible.description, to: &out)
        case let .array(values):
            out += "["
            for (index, element) in values.enumerated() {
                if index > 0 { out += "," }
                append(element, to: &out)
            }
            out += "]"
        case let .dictionary(entries):
            out += "{"
            for (index, key) in entries.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                appendString(key, to: &out)
                out += ":"
                if let element = entries[key] { append(element, to: &out) }
            }
            out += "}"
        }
    }

    /// A JSON string literal (RFC 8259 §7). Beyond what JSON requires (`"`, `\`, U+0000–U+001F), DEL, the C1
    /// controls, the Unicode line and paragraph separators and the bidirectional overrides are written as `\uXXXX`
    /// too, so a line read in a terminal or by a line-oriented tool shows what the client sent, not what it wanted shown.
    public static func appendString(_ text: String, to out: inout String) {
        out += "\""
        guard text.unicodeScalars.contains(where: { $0 == "\"" || LogEscaping.needsEscape($0) }) else {
            out += text
            out += "\""
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where LogEscaping.needsEscape(scalar):
                let hex = String(scalar.value, radix: 16, uppercase: false)
                out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// RFC 3339 in UTC with milliseconds: `2025-01-01T12:00:00.123Z`.
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds.quotient(dividingBy: 1000))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let millis = Int32(milliseconds - Int64(seconds) * 1000)
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2) + "T"
            + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2) + "." + pad(millis, 3) + "Z"
    }
}

private extension Int64 {
    /// Division rounding toward negative infinity (dates before 1970 stay correct).
    func quotient(dividingBy divisor: Int64) -> Int64 {
        let (q, r) = quotientAndRemainder(dividingBy: divisor)
        return r < 0 ? q - 1 : q
    }
}

/// Standard error as a sink of whole lines: one write per line, serialized.
final class StandardErrorLines: Sendable {
    static let shared = StandardErrorLines()
    private let lock = Mutex(())

    func write(_ line: String) {
        lock.withLock { _ in
            try? FileHandle.standardError.write(contentsOf: Data(line.utf8))
        }
    }
}
