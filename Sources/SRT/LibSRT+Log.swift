import Logging

/// libsrt logs through a handler we install (srt.h `srt_setloghandler`), so its messages are lines of our own log —
/// escaped, in the chosen format (text or JSON) — instead of its own format written straight to standard error.
extension LibSRT {
    /// `SRT_LOG_HANDLER_FN`: opaque, syslog level, file, line, area, message.
    typealias LogHandlerFunction = @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, Int32,
                                                    UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void

    /// Created on libsrt's first message, after `liveloop serve` has set up logging.
    static let logger = Logger(label: "libsrt")

    /// `SRT_LOGF_DISABLE_TIME | _THREADNAME | _SEVERITY | _EOL`: our log line has its own time and level.
    static let plainMessages: Int32 = 0x1 | 0x2 | 0x4 | 0x8

    func routeLogs() {
        setLogFlags?(Self.plainMessages)
        setLogHandler?(nil) { _, level, _, _, area, message in
            guard let message else { return }
            var text = String(cString: message)
            // Without its own prefix (time, thread, severity) libsrt still starts the message with ": ".
            text = String(text.drop { $0 == ":" || $0.isWhitespace })
            while text.last?.isNewline == true { text.removeLast() }
            var metadata: Logger.Metadata = [:]
            let areaName = area.map { String(cString: $0) }
            if let areaName { metadata["area"] = .string(areaName) }
            LibSRT.logger.log(level: LibSRT.level(syslog: level, area: areaName, message: text), "\(text)", metadata: metadata)
        }
    }

    /// syslog severities (what libsrt passes) as swift-log levels. Closing the listener is how ours stops its accept
    /// thread, and libsrt reports that accept as an error: it is the expected end, logged at debug.
    static func level(syslog: Int32, area: String? = nil, message: String = "") -> Logger.Level {
        if area == "accept" && message.contains("already closed") { return .debug }
        return switch syslog {
        case ...2: .critical
        case 3: .error
        case 4: .warning
        case 5: .notice
        case 6: .info
        default: .debug
        }
    }
}
