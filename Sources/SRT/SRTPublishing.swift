import MediaFormats

/// Decides who may publish over SRT. The listener asks twice: `admits` during the handshake (on libsrt's own thread,
/// so a wrong key is refused before any media is sent and the caller fails at once), and `begin` once the connection
/// is accepted, to claim the channel.
public protocol SRTPublishGate: Sendable {
    func admits(streamKey: String) -> Bool
    func begin(streamKey: String, remote: String) -> (any SRTPublishSink)?
}

/// Where one accepted publisher's media goes. Called from that connection's own thread.
public protocol SRTPublishSink: Sendable {
    func ingest(_ events: [IngestEvent])
    func publisherDisconnected()
}
