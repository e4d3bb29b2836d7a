import Foundation
import NIOCore

/// What the thumbnail route does for a request, decided from the cache and the time: serve the picture held, make a
/// new one, or both (stale-while-revalidate). One picture is made at a time per channel: while one is being made,
/// requests either get the last picture or wait for that one.
///
/// A plain value; `Thumbnails` keeps it behind a lock and performs what it says. Time is passed in.
struct ThumbnailCache: Sendable {
    enum Plan: Sendable, Equatable {
        /// A fresh picture: serve it.
        case serve(ByteBuffer)
        /// An old picture: serve it, and start making a new one (the caller starts it).
        case serveAndRefresh(ByteBuffer)
        /// An old picture while a new one is being made: serve the old one.
        case serveStale(ByteBuffer)
        /// No picture: start making one and wait for it.
        case make
        /// No picture, one being made: wait for it.
        case wait
    }

    struct Entry: Sendable {
        var jpeg: ByteBuffer?
        var madeAt: Date?
        var making = false
    }

    let refreshInterval: TimeInterval
    /// Entries not asked for in this long are dropped (the channel went off air).
    let retention: TimeInterval
    private(set) var entries: [String: Entry] = [:]
    private var lastAsked: [String: Date] = [:]

    init(refreshInterval: TimeInterval, retention: TimeInterval = 120) {
        self.refreshInterval = refreshInterval
        self.retention = retention
    }

    mutating func request(_ channel: String, now: Date) -> Plan {
        prune(now: now)
        lastAsked[channel] = now
        var entry = entries[channel] ?? Entry()
        defer { entries[channel] = entry }
        guard let jpeg = entry.jpeg, let madeAt = entry.madeAt else {
            if entry.making { return .wait }
            entry.making = true
            return .make
        }
        if now.timeIntervalSince(madeAt) < refreshInterval { return .serve(jpeg) }
        if entry.making { return .serveStale(jpeg) }
        entry.making = true
        return .serveAndRefresh(jpeg)
    }

    /// A picture was made (or making it failed: nil keeps the last one).
    mutating func made(_ channel: String, jpeg: ByteBuffer?, now: Date) {
        var entry = entries[channel] ?? Entry()
        entry.making = false
        if let jpeg {
            entry.jpeg = jpeg
            entry.madeAt = now
        }
        entries[channel] = entry
    }

    private mutating func prune(now: Date) {
        for (channel, asked) in lastAsked where now.timeIntervalSince(asked) > retention && entries[channel]?.making != true {
            lastAsked[channel] = nil
            entries[channel] = nil
        }
    }
}
