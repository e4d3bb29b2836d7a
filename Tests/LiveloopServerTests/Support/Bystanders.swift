import Foundation
import Interaction
import LiveloopClient
import LiveloopServer
import NIOCore
import Testing

/// A publisher and a viewer on a channel of their own, started before an attack on some other entry point.
/// `expectUnaffected()` asserts what they would notice if the attack reached them: the publisher's ffmpeg still
/// connected and its playlist still advancing, the viewer's interaction socket still the same connection and answering.
struct Bystanders {
    static let channel = "bystander"
    let server: TestServer
    let publisher: Process
    let viewer: InteractionClient

    enum Failure: Error { case notLive }

    /// Creates the `bystander` channel, publishes ~`seconds` of video to it over RTMP and connects one viewer.
    static func start(on server: TestServer, seconds: Int = 60) async throws -> Bystanders {
        let key = try server.createChannel(channel)
        let publisher = try Tools.publish(to: server.rtmpURL(key: key), frames: seconds * 30)
        let live = await eventually(timeout: .seconds(20)) {
            (try? await server.get("/live/\(channel)/media.m3u8"))?.status == 200
        }
        guard live else {
            publisher.terminate()
            throw Failure.notLive
        }
        let token = try await server.server.tokens.mint(LiveloopClaims(
            sub: "bystander-viewer", name: "Bystander", role: .viewer, channel: channel, expires: Date().addingTimeInterval(3600)
        ))
        var configuration = InteractionClient.Configuration()
        configuration.reconnect = nil  // a dropped connection must show as one, not be papered over
        configuration.clockSync = nil
        let viewer = try await InteractionClient.connect(
            url: InteractionClient.url(server: "http://127.0.0.1:\(server.httpPort)", channel: channel), token: token,
            configuration: configuration
        )
        return Bystanders(server: server, publisher: publisher, viewer: viewer)
    }

    /// The bystanders noticed nothing: the publisher is connected and new media keeps arriving in its playlist, and the
    /// viewer's socket is the one it opened and still gets an `ack` for a chat message.
    func expectUnaffected(_ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let what = comment.map { " (\($0))" } ?? ""
        #expect(publisher.isRunning, "the bystander's publisher is still connected\(what)", sourceLocation: sourceLocation)
        let before = try await server.get("/live/\(Self.channel)/media.m3u8")
        try await Task.sleep(for: .milliseconds(700))
        let after = try await server.get("/live/\(Self.channel)/media.m3u8")
        #expect(before.status == 200 && after.status == 200, "the bystander's playlist is served\(what)", sourceLocation: sourceLocation)
        #expect(String(buffer: before.body) != String(buffer: after.body), "the bystander's playlist advances\(what)",
                sourceLocation: sourceLocation)
        #expect(viewer.isConnected, "the bystander viewer keeps its connection\(what)",
                sourceLocation: sourceLocation)
        do {
            try await viewer.perform(.chatSend(.init(text: "still here")))
        } catch {
            Issue.record("the bystander viewer's chat message was not acknowledged\(what): \(error)", sourceLocation: sourceLocation)
        }
    }

    func stop() async {
        publisher.terminate()
        await viewer.close()
    }
}
