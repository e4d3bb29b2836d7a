import Logging

/// The log handler of an admitted HTTP-port connection: the handler it wraps, except that Hummingbird's error line for
/// a connection that closed before its first request head was whole ("Error handling upgrade result") becomes a debug
/// line. The `ConnectionGuard` closes such connections on purpose (a head too slow or too large, already logged once
/// at info), and an attacker should not be able to fill the error log with them.
struct QuietEarlyCloses: LogHandler {
    var base: any LogHandler

    static let noise = "Error handling upgrade result"

    func log(event: LogEvent) {
        var event = event
        if event.level == .error, event.message.description == Self.noise { event.level = .debug }
        guard event.level >= base.logLevel else { return }
        base.log(event: event)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { base.metadataProvider }
        set { base.metadataProvider = newValue }
    }
}
