import NIOCore

/// What a sub-second (WebSocket) viewer receives.
public enum LiveFragment: Sendable {
    /// An init segment, with the RFC 6381 codecs string MSE needs for `addSourceBuffer`.
    case initSegment(ByteBuffer, codecs: String)
    /// One CMAF chunk (`moof`+`mdat`).
    case media(ByteBuffer)
    /// The publisher went away: no media comes until it is back (within the reconnect grace) or the broadcast ends.
    case interrupted
}

/// The sub-second viewers of one rendition: each gets the rendition's CMAF chunks — the same bytes as its LL-HLS
/// parts, muxed once — as they are packaged.
///
/// Each viewer has its own bounded queue (`bufferLimit` fragments). Policy when full: the viewer is dropped — its
/// stream finishes and its socket closes — and nobody else waits: a fragment is handed to every other viewer whether
/// or not one is stuck.
struct LiveViewers: Sendable {
    private var viewers: [Int: AsyncStream<LiveFragment>.Continuation] = [:]
    private var nextID = 0
    /// The init version viewers last got.
    private var announcedInitVersion = -1

    var isEmpty: Bool { viewers.isEmpty }

    /// Adds a viewer whose queue already holds its start (the init segment and the chunks since the last keyframe).
    mutating func add(_ continuation: AsyncStream<LiveFragment>.Continuation, initVersion: Int) -> Int {
        let id = nextID
        nextID += 1
        viewers[id] = continuation
        announcedInitVersion = initVersion
        return id
    }

    mutating func remove(_ id: Int) {
        viewers[id] = nil
    }

    /// Hands `chunks` to every viewer, after the init segment when it changed. Returns the viewers that were full,
    /// already removed: the caller finishes them once its lock is released (finishing runs their termination
    /// handlers, which take it).
    mutating func feed(
        _ chunks: [ByteBuffer], initSegment: (version: Int, bytes: ByteBuffer, codecs: String)?
    ) -> [AsyncStream<LiveFragment>.Continuation] {
        guard !viewers.isEmpty else { return [] }
        var fragments: [LiveFragment] = []
        if let initSegment, initSegment.version != announcedInitVersion {
            announcedInitVersion = initSegment.version
            fragments.append(.initSegment(initSegment.bytes, codecs: initSegment.codecs))
        }
        for bytes in chunks { fragments.append(.media(bytes)) }
        guard !fragments.isEmpty else { return [] }
        var full: [AsyncStream<LiveFragment>.Continuation] = []
        for (id, continuation) in viewers {
            for fragment in fragments {
                if case .dropped = continuation.yield(fragment) {
                    full.append(continuation)
                    viewers[id] = nil
                    break
                }
            }
        }
        return full
    }

    /// Tells every viewer that the publisher went away. Returns the viewers that were full, already removed.
    mutating func interrupt() -> [AsyncStream<LiveFragment>.Continuation] {
        var full: [AsyncStream<LiveFragment>.Continuation] = []
        for (id, continuation) in viewers {
            if case .dropped = continuation.yield(.interrupted) {
                full.append(continuation)
                viewers[id] = nil
            }
        }
        return full
    }

    /// Every viewer, removed: the broadcast ended.
    mutating func removeAll() -> [AsyncStream<LiveFragment>.Continuation] {
        defer { viewers.removeAll() }
        return Array(viewers.values)
    }
}
