import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import RTMP

/// Why a relay's attempt or connection failed, as one short line for the API, the studio and the log.
enum RelayFailure: Error, CustomStringConvertible {
    case unresolvable(String)
    case privateAddress(String)
    /// A write was not taken by the destination within the stall timeout.
    case stalled(Duration)
    case other(String)

    var description: String {
        switch self {
        case let .unresolvable(host): "could not resolve \(host)"
        case let .privateAddress(host): "\(host) resolves to a loopback, private or otherwise internal address, which this server does not push to"
        case let .stalled(timeout): "the destination took no data for \(Int(timeout.asSeconds)) s"
        case let .other(text): text
        }
    }

    /// A line for `error` that never carries the stream key (a server may echo the stream name in a status) and never
    /// runs long.
    static func describe(_ error: any Error, key: String) -> String {
        let text: String = switch error {
        case let error as RelayFailure: error.description
        case let error as RTMPPublisherError: error.description
        case is NIOConnectionError: "could not connect"
        case let error as ChannelError: if case .connectTimeout = error { "connect timed out" } else { "connection: \(error)" }
        case let error as IOError: "connection failed: \(error.description)"
        case let error as NIOSSLError: "TLS: \(error)"
        case let error as BoringSSLError: "TLS: \(error)"
        default: String(describing: error)
        }
        var line = key.isEmpty ? text : text.replacingOccurrences(of: key, with: DestinationKeyMask.mask)
        line = String(line.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
        return line.count > 200 ? String(line.prefix(199)) + "…" : line
    }
}

enum DestinationKeyMask {
    static let mask = "••••"
}
