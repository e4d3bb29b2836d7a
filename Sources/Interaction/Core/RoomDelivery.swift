/// Who a room's frames go to and when: the connected peers and, per viewer, the frames held until that viewer's
/// playhead nears their cue (docs/sync.md). Owned by one task (the room's pipeline), so it needs no lock; driven by
/// the time it is given, never by a clock of its own.
///
/// Staff get every frame at once; a viewer gets a cue-bearing frame `lead` before their playhead reaches the cue,
/// and every later frame for that viewer queues behind a held one, so a viewer's frames leave in order. A viewer with
/// more than `heldLimit` frames waiting, or whose transport refuses a frame, is dropped (too slow).
///
/// In a cluster (docs/cluster.md) the room's node hands each broadcast once to `relay`, which sends it to every other
/// node with clients of the room; there each node's own `RoomDelivery` fans it out to its clients (`deliver(_:to:cue:now:)`)
/// and holds it for their playheads. Clients of other nodes (`isRemote`) get only their own frames from here.
public struct RoomDelivery<Peer: RoomPeer>: Sendable {
    public private(set) var peers: [Int: Peer] = [:]
    private var held: [Int: [(due: Int64, frame: Peer.Frame)]] = [:]
    /// The earliest `due` among the held frames' first entries: nothing to release before it.
    private var nextDue = Int64.max
    /// Clients dropped because they were too slow since the last `takeSlowDrops()`.
    private var slowDrops = 0

    /// Frames held for one viewer before it counts as too slow.
    public static var heldLimit: Int { 1024 }

    /// Told of every broadcast once, with its frame (the room's node sends it on to the other nodes).
    public var relay: (@Sendable (RoomBroadcast, Peer.Frame) -> Void)?

    public init() {}

    /// Whether `id` is a peer here.
    public func contains(_ id: Int) -> Bool { peers[id] != nil }

    /// Adds a peer with nothing to send yet (a node relaying a room adds its client when the room's `hello` for it
    /// arrives).
    public mutating func add(_ peer: Peer) {
        peers[peer.id] = peer
    }

    /// Sends a frame to one peer now, or holds it for the peer's playhead; a peer too slow for it is dropped.
    public mutating func send(_ frame: Peer.Frame, cue: CueStamp?, to id: Int, now: Int64) {
        guard let peer = peers[id] else { return }
        if !schedule(frame, cue: cue, for: peer, now: now) { drop(id) }
    }

    /// Removes a peer and ends it: after what it has queued (`close`), or at once (`drop`).
    public mutating func remove(_ id: Int, dropping: Bool) {
        held[id] = nil
        guard let peer = peers.removeValue(forKey: id) else { return }
        if dropping { peer.drop() } else { peer.close() }
    }

    /// Whether some viewer has frames waiting for their playhead (the shell then calls `release` every few ms).
    public var isHolding: Bool { !held.isEmpty }

    mutating func register(_ peer: Peer, frames: [ServerEnvelope], now: Int64) {
        peers[peer.id] = peer
        for envelope in frames {
            guard let frame = Peer.frame(envelope) else { continue }
            if !schedule(frame, cue: envelope.cue, for: peer, now: now) { drop(peer.id) }
        }
    }

    mutating func unregister(_ peer: Peer) {
        peers[peer.id] = nil
        held[peer.id] = nil
        peer.close()
    }

    /// Sends a frame to every peer at once, past any hold (a `goaway`).
    public mutating func sendToAll(_ frame: Peer.Frame) {
        for peer in peers.values { peer.send(frame) }
    }

    /// Closes every peer whose identity matches.
    public mutating func expel(where predicate: (Identity) -> Bool) {
        for (id, peer) in peers where predicate(peer.identity) {
            held[id] = nil
            peers.removeValue(forKey: id)?.close()
        }
    }

    /// Encodes a broadcast once and schedules the same frame for every peer in its audience.
    mutating func deliver(_ broadcast: RoomBroadcast, now: Int64) {
        guard let frame = Peer.frame(broadcast.envelope) else { return }
        relay?(broadcast, frame)
        deliver(frame, to: broadcast.audience, cue: broadcast.cue, now: now)
    }

    /// Schedules one encoded frame for every local peer in `audience` (remote peers get it through their node).
    public mutating func deliver(_ frame: Peer.Frame, to audience: RoomBroadcast.Audience, cue: CueStamp?, now: Int64) {
        var slow: [Int] = []
        for (id, peer) in peers where !peer.isRemote && audience.includes(peer.identity) {
            if !schedule(frame, cue: cue, for: peer, now: now) { slow.append(id) }
        }
        for id in slow { drop(id) }
    }

    /// Sends a frame now, or holds it until `lead` before the viewer's playhead reaches its cue. False: too slow.
    private mutating func schedule(_ frame: Peer.Frame, cue: CueStamp?, for peer: Peer, now: Int64) -> Bool {
        if peer.isRemote { return peer.send(frame, cue: cue) }
        var due: Int64 = 0
        if let cue, !peer.identity.role.isStaff {
            due = cue.at.unixMilliseconds + Int64(peer.displayLatencyMilliseconds - peer.leadMilliseconds)
        }
        if var queue = held[peer.id], let last = queue.last {
            guard queue.count < Self.heldLimit else { return false }
            queue.append((max(due, last.due), frame))
            held[peer.id] = queue
            return true
        }
        if due <= now { return peer.send(frame) }
        held[peer.id] = [(due, frame)]
        nextDue = min(nextDue, due)
        return true
    }

    /// Sends the held frames whose time has come.
    public mutating func release(now: Int64) {
        guard !held.isEmpty, nextDue <= now else { return }
        var slow: [Int] = []
        var next = Int64.max
        for (id, queue) in held {
            guard let first = queue.first else { continue }
            guard first.due <= now else {
                next = min(next, first.due)
                continue
            }
            guard let peer = peers[id] else {
                held[id] = nil
                continue
            }
            let ready = queue.prefix { $0.due <= now }
            for entry in ready where !peer.send(entry.frame) {
                slow.append(id)
                break
            }
            if ready.count == queue.count {
                held[id] = nil
            } else {
                let rest = Array(queue.dropFirst(ready.count))
                held[id] = rest
                next = min(next, rest[0].due)
            }
        }
        for id in slow { drop(id) }
        nextDue = next
    }

    /// Closes the peers of `sub` that `moderation` holds banned (a ban takes effect at once).
    mutating func closeBanned(_ sub: String, holds moderation: Moderation) {
        for (id, peer) in peers where peer.identity.sub == sub && moderation.isBanned(peer.identity) {
            held[id] = nil
            peers.removeValue(forKey: id)?.close()
        }
    }

    private mutating func drop(_ id: Int) {
        held[id] = nil
        guard let peer = peers.removeValue(forKey: id) else { return }
        // A send also fails for a client that has just gone; only a full queue is a slow consumer.
        if peer.wasTooSlow { slowDrops += 1 }
        peer.drop()
    }

    /// How many clients were dropped as too slow since the last call.
    public mutating func takeSlowDrops() -> Int {
        defer { slowDrops = 0 }
        return slowDrops
    }

    /// Closes every peer (the room stops).
    public mutating func closeAll() {
        for peer in peers.values { peer.close() }
        peers.removeAll()
        held.removeAll()
    }
}
