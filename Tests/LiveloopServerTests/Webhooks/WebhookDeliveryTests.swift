import Foundation
import Interaction
import LiveloopServer
import NIOHTTP1
import Storage
import Testing

/// Webhooks with real parts: the server's own HTTP API to subscribe, a local receiver that checks every signature
/// itself, ffmpeg publishing over RTMP, REST host and viewer actions in a room, and a restart on the same data.
@Suite("webhook deliveries", .serialized)
struct WebhookDeliveryTests {
    static let secret = "whsec_0123456789abcdef"

    /// Subscribes `url` through `POST /api/v1/webhooks`; returns the webhook id.
    static func subscribe(_ server: TestServer, key: String, url: String, events: [String], channel: String? = nil) async throws -> String {
        let channelField = channel.map { #","channel":"\#($0)""# } ?? ""
        let list = events.map { "\"\($0)\"" }.joined(separator: ",")
        let (status, body) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/webhooks", bearer: key,
            body: #"{"url":"\#(url)","events":[\#(list)],"secret":"\#(secret)"\#(channelField)}"#)
        #expect(status == 201, "create: \(String(describing: body))")
        #expect(body?["secret"] as? String == secret, "the secret is returned once, by the create")
        return try #require(body?["id"] as? String)
    }

    /// The delivery log of a webhook, newest first.
    static func log(_ server: TestServer, key: String, webhook: String) async throws -> [[String: Any]] {
        let (status, body) = try await httpJSON(port: server.httpPort, .GET, "/api/v1/webhooks/\(webhook)/deliveries", bearer: key)
        #expect(status == 200)
        return body as? [[String: Any]] ?? []
    }

    func token(_ server: TestServer, sub: String, role: Role, channel: String) async throws -> String {
        try await server.server.tokens.mint(LiveloopClaims(sub: sub, name: sub, role: role, channel: channel, expires: Date().addingTimeInterval(3600)))
    }

    /// Sends one client message through REST and returns the envelope.
    @discardableResult
    func send(_ server: TestServer, _ channel: String, as bearer: String, _ body: String) async throws -> [String: Any]? {
        let (status, answer) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/channels/\(channel)/messages", bearer: bearer, body: body)
        #expect(status == 200, "\(body) → \(status) \(String(describing: answer))")
        return answer
    }

    @Test("an ffmpeg publish sends stream.started, then stream.ended when the publisher is gone, both signed",
          .enabled(if: Tools.haveFFmpeg, "needs ffmpeg"))
    func streamLifecycle() async throws {
        let receiver = try await WebhookReceiver.start()
        receiver.configure(secret: Self.secret)
        let server = try await TestServer.start(grace: .milliseconds(500))
        defer { Task { await server.stop(); await receiver.stop() } }
        let admin = try server.store.rotateAdminKey()
        let streamKey = try server.createChannel("cam")
        _ = try await Self.subscribe(server, key: admin, url: receiver.url, events: ["stream.started", "stream.ended"])
        let ffmpeg = try Tools.publish(to: server.rtmpURL(key: streamKey), frames: 45)
        #expect(await Tools.waitForExit(ffmpeg, timeout: .seconds(30)) == 0)
        #expect(await eventually(timeout: .seconds(20)) { receiver.deliveries.count >= 2 })
        let types = receiver.deliveries.compactMap(\.type)
        #expect(types == ["stream.started", "stream.ended"])
        #expect(receiver.deliveries.allSatisfy { $0.verified }, "every delivery carries a valid Liveloop-Signature")
        let ended = try #require(receiver.deliveries(ofType: "stream.ended").first)
        #expect(ended.json["channel"] as? String == "cam")
        let duration = ended.data["durationSeconds"] as? Double ?? 0
        #expect(duration >= 1 && duration < 20, "45 frames at 30 fps, then the 0.5 s grace: \(duration) s")
    }

    @Test("poll.closed carries the final counts, quiz.ended the leaderboard, gift.sent the gift; other channels' hooks get none")
    func roomEvents() async throws {
        let receiver = try await WebhookReceiver.start()
        receiver.configure(secret: Self.secret)
        let bystander = try await WebhookReceiver.start()
        bystander.configure(secret: Self.secret)
        let server = try await TestServer.start()
        defer { Task { await server.stop(); await receiver.stop(); await bystander.stop() } }
        let admin = try server.store.rotateAdminKey()
        _ = try server.createChannel("studio")
        _ = try server.createChannel("other")
        _ = try await Self.subscribe(server, key: admin, url: receiver.url, events: ["poll.closed", "quiz.ended", "gift.sent"], channel: "studio")
        _ = try await Self.subscribe(server, key: admin, url: bystander.url, events: ["poll.closed", "quiz.ended", "gift.sent"], channel: "other")
        let ada = try await token(server, sub: "ada", role: .viewer, channel: "studio")
        let bob = try await token(server, sub: "bob", role: .viewer, channel: "studio")
        let cy = try await token(server, sub: "cy", role: .viewer, channel: "studio")

        let poll = try #require(try await send(server, "studio", as: admin,
            #"{"v":1,"type":"poll.create","id":"c","question":"Tea or coffee?","options":["tea","coffee"]}"#)?["ref"] as? String)
        try await send(server, "studio", as: admin, #"{"v":1,"type":"poll.launch","id":"l","pollID":"\#(poll)"}"#)
        for (viewer, choice) in [(ada, 0), (bob, 0), (cy, 1)] {
            try await send(server, "studio", as: viewer, #"{"v":1,"type":"poll.vote","id":"v","pollID":"\#(poll)","choices":[\#(choice)]}"#)
        }
        try await send(server, "studio", as: admin, #"{"v":1,"type":"poll.close","id":"x","pollID":"\#(poll)"}"#)

        let quiz = try #require(try await send(server, "studio", as: admin, #"""
            {"v":1,"type":"quiz.create","id":"q","title":"Capitals","questions":[{"prompt":"Capital of France?","options":["Lyon","Paris"],"correct":[1],"windowSeconds":30}]}
            """#)?["ref"] as? String)
        try await send(server, "studio", as: admin, #"{"v":1,"type":"quiz.next","id":"n","quizID":"\#(quiz)"}"#)
        try await send(server, "studio", as: ada, #"{"v":1,"type":"quiz.answer","id":"a","quizID":"\#(quiz)","question":0,"choices":[1]}"#)
        try await send(server, "studio", as: bob, #"{"v":1,"type":"quiz.answer","id":"a","quizID":"\#(quiz)","question":0,"choices":[0]}"#)
        try await send(server, "studio", as: admin, #"{"v":1,"type":"quiz.reveal","id":"r","quizID":"\#(quiz)"}"#)
        try await send(server, "studio", as: admin, #"{"v":1,"type":"quiz.end","id":"e","quizID":"\#(quiz)"}"#)

        try await send(server, "studio", as: ada, #"{"v":1,"type":"gift.send","id":"g","giftID":"rose","count":3}"#)

        #expect(await eventually(timeout: .seconds(15)) { receiver.deliveries.count >= 3 })
        #expect(receiver.deliveries.allSatisfy { $0.verified })
        let closed = try #require(receiver.deliveries(ofType: "poll.closed").first).data
        #expect(closed["pollID"] as? String == poll)
        #expect(closed["counts"] as? [Int] == [2, 1], "two for tea, one for coffee")
        #expect(closed["ballots"] as? Int == 3)
        #expect(closed["options"] as? [String] == ["tea", "coffee"])
        let ended = try #require(receiver.deliveries(ofType: "quiz.ended").first).data
        #expect(ended["quizID"] as? String == quiz)
        #expect(ended["players"] as? Int == 2)
        let board = ended["leaderboard"] as? [[String: Any]] ?? []
        #expect(board.first?["sub"] as? String == "ada", "the right answer leads: \(board)")
        #expect((board.first?["score"] as? Int ?? 0) > (board.last?["score"] as? Int ?? 0))
        let gift = try #require(receiver.deliveries(ofType: "gift.sent").first).data
        #expect(gift["giftID"] as? String == "rose")
        #expect(gift["count"] as? Int == 3)
        #expect(gift["total"] as? Int == 3)
        #expect(gift["sub"] as? String == "ada")
        try await Task.sleep(for: .milliseconds(500))
        #expect(bystander.deliveries.isEmpty, "a webhook for another channel gets none of these")
    }

    @Test("a receiver that answers 500 twice gets the delivery on the third attempt, and the log shows it")
    func retriesThenDelivers() async throws {
        let receiver = try await WebhookReceiver.start()
        receiver.configure(secret: Self.secret, script: [500, 500], defaultStatus: 200)
        let server = try await TestServer.start()
        defer { Task { await server.stop(); await receiver.stop() } }
        let admin = try server.store.rotateAdminKey()
        let webhook = try await Self.subscribe(server, key: admin, url: receiver.url, events: ["stream.started"])
        let (status, ping) = try await httpRequest(port: server.httpPort, .POST, "/api/v1/webhooks/\(webhook)/ping", bearer: admin)
        #expect(status == 202)
        #expect(ping?["deliveryID"] != nil)
        #expect(await eventually(timeout: .seconds(15)) {
            (try? await Self.log(server, key: admin, webhook: webhook))?.first?["state"] as? String == "delivered"
        })
        let entry = try #require(try await Self.log(server, key: admin, webhook: webhook).first)
        #expect(entry["event"] as? String == "webhook.ping")
        #expect(entry["attempts"] as? Int == 3)
        #expect(entry["lastStatus"] as? Int == 200)
        #expect(receiver.deliveries.map(\.status) == [500, 500, 200])
        #expect(receiver.deliveries.allSatisfy { $0.verified })
        #expect(Set(receiver.deliveries.map(\.body)).count == 1, "every attempt sends the same event")
    }

    @Test("a receiver that always fails: the delivery is marked failed after the last attempt")
    func givesUp() async throws {
        let receiver = try await WebhookReceiver.start()
        receiver.configure(secret: Self.secret, defaultStatus: 500)
        var webhooks = WebhookConfiguration.testing
        webhooks.retry = WebhookRetryPolicy(maxAttempts: 3, base: .milliseconds(100), cap: .seconds(1), jitter: 0)
        let server = try await TestServer.start(webhooks: webhooks)
        defer { Task { await server.stop(); await receiver.stop() } }
        let admin = try server.store.rotateAdminKey()
        let webhook = try await Self.subscribe(server, key: admin, url: receiver.url, events: ["gift.sent"])
        _ = try await httpRequest(port: server.httpPort, .POST, "/api/v1/webhooks/\(webhook)/ping", bearer: admin)
        #expect(await eventually(timeout: .seconds(15)) {
            (try? await Self.log(server, key: admin, webhook: webhook))?.first?["state"] as? String == "failed"
        })
        let entry = try #require(try await Self.log(server, key: admin, webhook: webhook).first)
        #expect(entry["attempts"] as? Int == 3)
        #expect(entry["lastStatus"] as? Int == 500)
        try await Task.sleep(for: .milliseconds(500))
        #expect(receiver.deliveries.count == 3, "no attempt after the last")
    }

    @Test("a delivery pending when the server stops is delivered after it starts again on the same data")
    func survivesRestart() async throws {
        let receiver = try await WebhookReceiver.start()
        receiver.configure(secret: Self.secret, defaultStatus: 503)
        var slow = WebhookConfiguration.testing
        slow.retry = WebhookRetryPolicy(maxAttempts: 5, base: .seconds(3), cap: .seconds(3), jitter: 0)
        let first = try await TestServer.start(webhooks: slow)
        let data = first.dataDirectory
        defer { try? FileManager.default.removeItem(atPath: data) }
        let admin = try first.store.rotateAdminKey()
        let webhook = try await Self.subscribe(first, key: admin, url: receiver.url, events: ["stream.ended"])
        _ = try await httpRequest(port: first.httpPort, .POST, "/api/v1/webhooks/\(webhook)/ping", bearer: admin)
        #expect(await eventually { receiver.deliveries.count == 1 })
        #expect(await eventually { (try? await Self.log(first, key: admin, webhook: webhook))?.first?["attempts"] as? Int == 1 })
        await first.stop(keepingData: true)
        receiver.configure(defaultStatus: 200)

        let second = try await TestServer.start(dataDirectory: data)
        defer { Task { await second.stop(); await receiver.stop() } }
        #expect(await eventually(timeout: .seconds(20)) {
            (try? await Self.log(second, key: admin, webhook: webhook))?.first?["state"] as? String == "delivered"
        })
        #expect(receiver.deliveries.map(\.status) == [503, 200])
        #expect(receiver.deliveries.allSatisfy { $0.verified })
        #expect(receiver.deliveries.first?.body == receiver.deliveries.last?.body, "the same event, sent again")
    }
}
