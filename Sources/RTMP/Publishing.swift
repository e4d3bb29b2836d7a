/// Decides whether a `publish` may go ahead. The server implements it against its channel store.
public protocol RTMPPublishAuthorizer: Sendable {
    func authorize(app: String, streamKey: String, remoteAddress: String) async -> RTMPPublishDecision
}

public enum RTMPPublishDecision: Sendable {
    /// Go ahead; media goes to this sink.
    case accept(any RTMPPublishSink)
    /// Refuse with an `onStatus` error code such as `NetStream.Publish.BadName`, then close.
    case refuse(code: String, description: String)
}

/// Receives a publisher's media. Called on the connection's event loop: it must not block.
public protocol RTMPPublishSink: Sendable {
    func handle(_ event: RTMPMediaEvent)
    /// The publisher stopped or its connection closed.
    func publisherDisconnected()
}
