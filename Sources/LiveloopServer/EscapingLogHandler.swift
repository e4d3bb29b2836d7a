import Logging

/// Escapes text that may have come from a client before it goes into a log line, so that nobody can forge a line
/// (a newline followed by a made-up entry), hide one (a carriage return) or garble a terminal (escape sequences).
///
/// Backslash becomes `\\`, newline `\n`, carriage return `\r`, tab `\t`; every other control character (C0, DEL,
/// C1), the Unicode line and paragraph separators and the bidirectional overrides become `\u{XXXX}`. Everything else
/// is left as it is, so ordinary text reads the same.
public enum LogEscaping {
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where needsEscape(scalar): out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x5C, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    public static func escape(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case let .string(s): .string(escape(s))
        case let .stringConvertible(c): .string(escape(c.description))
        case let .array(values): .array(values.map(escape))
        case let .dictionary(d): .dictionary(escape(d))
        }
    }

    public static func escape(_ metadata: Logger.Metadata) -> Logger.Metadata {
        var out: Logger.Metadata = [:]
        for (key, value) in metadata { out[escape(key)] = escape(value) }
        return out
    }
}

/// A `LogHandler` that escapes the message and every metadata value (see ``LogEscaping``) before handing them to the
/// handler it wraps. The one place log output is made safe: `liveloop serve` bootstraps logging with it, and tests
/// wrap their capturing handler in it. Metadata providers are run here, so their values are escaped too.
public struct EscapingLogHandler: LogHandler {
    private var wrapped: any LogHandler
    public var metadataProvider: Logger.MetadataProvider?

    public init(wrapping handler: any LogHandler) {
        var handler = handler
        metadataProvider = handler.metadataProvider
        handler.metadataProvider = nil
        wrapped = handler
    }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = LogEscaping.escape(newValue) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: LogEscaping.escape(key)] = newValue.map(LogEscaping.escape) }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = "\(LogEscaping.escape(event.message.description))"
        var metadata = metadataProvider?.get() ?? [:]
        if let own = event.metadata { metadata.merge(own) { _, new in new } }
        event.metadata = metadata.isEmpty ? nil : LogEscaping.escape(metadata)
        if let error = event.error {
            // The error's description may carry client text (an RTMP command name): it goes in as escaped text.
            event.error = nil
            event.metadata = (event.metadata ?? [:]).merging(["error": .string(LogEscaping.escape("\(error)"))]) { _, new in new }
        }
        wrapped.log(event: event)
    }
}
