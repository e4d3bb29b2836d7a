import Foundation
import NIOHTTP1
import Storage
import Testing

/// Offer clicks through the server: two viewers click (one twice), the host reads the counts with `GET …/offers`,
/// a viewer may not, and bad cards and click fields are refused with a JSON error that changes nothing. Sponsor clicks
/// the same way, with `GET …/sponsors`.
@Suite("offers over the API", .serialized)
struct OfferAPITests {
    static func post(_ server: TestServer, _ path: String, bearer: String?, _ body: String) async throws -> (Int, [String: Any]?) {
        try await httpRequest(port: server.httpPort, .POST, path, bearer: bearer, body: body)
    }

    @Test("clicks are counted in total and per viewer, read by staff only; bad stock, end time and mediaTime are refused")
    func clicksOverREST() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("show")
        let admin = try #require(try server.store.ensureAdminKey())
        let messages = "/api/v1/channels/show/messages"
        let card = #"{"offerID":"tee","title":"Tee","price":"24.90","currency":"EUR","link":"https://shop.example/tee","stock":3}"#
        let (shown, _) = try await Self.post(server, messages, bearer: admin, #"{"v":1,"type":"offer.show","offer":\#(card)}"#)
        #expect(shown == 200)

        var viewers: [String] = []
        for name in ["Ada", "Bea"] {
            let (status, joined) = try await Self.post(server, "/api/v1/channels/show/join", bearer: nil, #"{"name":"\#(name)"}"#)
            #expect(status == 200)
            viewers.append(try #require(joined?["token"] as? String))
        }
        for (index, token) in [viewers[0], viewers[0], viewers[1]].enumerated() {
            let (status, body) = try await Self.post(server, messages, bearer: token,
                                                     #"{"v":1,"type":"offer.click","id":"c\#(index)","offerID":"tee","mediaTime":12.5}"#)
            #expect(status == 200, "\(String(describing: body))")
        }
        let (badTime, badTimeBody) = try await Self.post(server, messages, bearer: viewers[1],
                                                         #"{"v":1,"type":"offer.click","id":"c9","offerID":"tee","mediaTime":-1}"#)
        #expect(badTime == 400, "\(String(describing: badTimeBody))")

        let (status, body) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/offers", bearer: admin)
        #expect(status == 200)
        let tee = (body?["offers"] as? [[String: Any]])?.first { $0["offerID"] as? String == "tee" }
        #expect(tee?["clicks"] as? Int == 3 && tee?["uniqueClicks"] as? Int == 2 && tee?["visible"] as? Bool == true,
                "\(String(describing: body))")

        let (viewerRead, viewerBody) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/offers", bearer: viewers[0])
        #expect(viewerRead == 403 && viewerBody?["error"] != nil)
        let (guestRead, _) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/offers", bearer: nil)
        #expect(guestRead == 401)
        // The caller is checked before the room is looked up: no token tells nothing about which channels exist.
        let (unknownRead, _) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/nosuch/offers", bearer: nil)
        #expect(unknownRead == 401)
        let (unknownStaff, unknownBody) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/nosuch/offers", bearer: admin)
        #expect(unknownStaff == 404 && unknownBody?["error"] != nil)

        let negative = card.replacingOccurrences(of: #""stock":3"#, with: #""stock":-2"#)
        let (refused, _) = try await Self.post(server, messages, bearer: admin, #"{"v":1,"type":"offer.show","offer":\#(negative)}"#)
        #expect(refused == 400)
        let past = card.replacingOccurrences(of: #""stock":3"#, with: #""endsAt":1000"#)
        let (pastRefused, _) = try await Self.post(server, messages, bearer: admin, #"{"v":1,"type":"offer.show","offer":\#(past)}"#)
        #expect(pastRefused == 400)
        let (_, room) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/room", bearer: admin)
        #expect((room?["offers"] as? [[String: Any]])?.first?["stock"] as? Int == 3, "a refused card changes nothing")
    }

    @Test("sponsor clicks on a poll and a quiz are counted in total and per viewer, read by staff only; an unknown id is 404")
    func sponsorClicksOverREST() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try server.createChannel("show")
        let admin = try #require(try server.store.ensureAdminKey())
        let messages = "/api/v1/channels/show/messages"
        let sponsor = #""sponsor":{"name":"Acme","link":"https://acme.example/"}"#
        let (_, poll) = try await Self.post(server, messages, bearer: admin,
                                            #"{"v":1,"type":"poll.create","question":"Q?","options":["a","b"],\#(sponsor)}"#)
        let pollID = try #require(poll?["ref"] as? String)
        _ = try await Self.post(server, messages, bearer: admin, #"{"v":1,"type":"poll.launch","pollID":"\#(pollID)"}"#)
        let quizBody = #"{"v":1,"type":"quiz.create","title":"T","questions":[{"prompt":"1?","options":["a","b"],"correct":[0],"windowSeconds":30}],\#(sponsor)}"#
        let (_, quiz) = try await Self.post(server, messages, bearer: admin, quizBody)
        let quizID = try #require(quiz?["ref"] as? String)

        let (joined, body) = try await Self.post(server, "/api/v1/channels/show/join", bearer: nil, #"{"name":"Ada"}"#)
        #expect(joined == 200)
        let viewer = try #require(body?["token"] as? String)
        for index in 0..<2 {
            let (status, reply) = try await Self.post(server, messages, bearer: viewer,
                                                      #"{"v":1,"type":"sponsor.click","id":"s\#(index)","pollID":"\#(pollID)","mediaTime":3.25}"#)
            #expect(status == 200, "\(String(describing: reply))")
        }
        let (beforeAsking, notYet) = try await Self.post(server, messages, bearer: viewer,
                                                         #"{"v":1,"type":"sponsor.click","id":"s8","quizID":"\#(quizID)"}"#)
        #expect(beforeAsking == 404 && notYet?["code"] as? String == "not_found", "a quiz not yet asking")
        let (unknown, unknownBody) = try await Self.post(server, messages, bearer: viewer,
                                                         #"{"v":1,"type":"sponsor.click","id":"s9","pollID":"p404"}"#)
        #expect(unknown == 404 && unknownBody?["code"] as? String == "not_found" && unknownBody?["id"] as? String == "s9")

        let (status, read) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/sponsors", bearer: admin)
        #expect(status == 200)
        let counts = read?["sponsors"] as? [[String: Any]] ?? []
        #expect(counts.count == 2, "\(String(describing: read))")
        #expect(counts.first?["pollID"] as? String == pollID && counts.first?["sponsor"] as? String == "Acme")
        #expect(counts.first?["clicks"] as? Int == 2 && counts.first?["uniqueClicks"] as? Int == 1)
        #expect(counts.last?["quizID"] as? String == quizID && counts.last?["clicks"] as? Int == 0)
        let (_, staffRoom) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/room", bearer: admin)
        #expect((staffRoom?["sponsorClicks"] as? [[String: Any]])?.first?["clicks"] as? Int == 2)
        let (_, viewerRoom) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/room", bearer: viewer)
        #expect(viewerRoom?["sponsorClicks"] == nil, "counts are for staff")

        let (viewerRead, viewerBody) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/sponsors", bearer: viewer)
        #expect(viewerRead == 403 && viewerBody?["error"] != nil)
        let (guestRead, _) = try await httpRequest(port: server.httpPort, .GET, "/api/v1/channels/show/sponsors", bearer: nil)
        #expect(guestRead == 401)
    }
}
