import Testing
import Interaction

/// One sample of every message a viewer must not send.
let staffOnlyMessages: [ClientMessage] = [
    .qaModerate(.approve, .init(questionID: "q1")),
    .qaModerate(.reject, .init(questionID: "q1")),
    .qaModerate(.pin, .init(questionID: "q1")),
    .qaModerate(.unpin, .init(questionID: "q1")),
    .qaModerate(.answer, .init(questionID: "q1")),
    .qaModerate(.archive, .init(questionID: "q1")),
    .modTimeout(.init(sub: "user-2", seconds: 60)),
    .modBan(.init(sub: "user-2")),
    .modUnban(.init(sub: "user-2")),
    .modShadowBan(.init(sub: "user-2")),
    .chatSlowMode(.init(seconds: 5)),
    .chatFilter(.init(words: ["x"])),
    .pollCreate(.init(question: "Q", options: ["a", "b"])),
    .pollLaunch(.init(pollID: "p1")),
    .pollClose(.init(pollID: "p1")),
    .pollReveal(.init(pollID: "p1")),
    .quizCreate(.init(title: "T", questions: [])),
    .quizNext(.init(quizID: "z1")),
    .quizClose(.init(quizID: "z1")),
    .quizReveal(.init(quizID: "z1")),
    .quizEnd(.init(quizID: "z1")),
    .offerShow(.init(offer: OfferCard(offerID: "o1", title: "Mug", price: "9.99", currency: "EUR", link: "https://shop.example/mug"))),
    .offerHide(.init(offerID: "o1")),
]

let hostOnlyMessages = staffOnlyMessages.filter { $0.requiredRole == .host }

let viewerMessages: [ClientMessage] = [
    .chatSend(.init(text: "hi")),
    .chatDelete(.init(messageID: "m1")),
    .pollVote(.init(pollID: "p1", choices: [0])),
    .quizAnswer(.init(quizID: "z1", question: 0, choices: [0])),
    .qaAsk(.init(text: "why?")),
    .qaUpvote(.init(questionID: "q1")),
    .giftSend(.init(giftID: "rose")),
    .offerClick(.init(offerID: "o1")),
    .sponsorClick(.init(.poll("p1"), mediaTime: 12.5)),
]

@Suite("Permissions")
struct PermissionTests {
    @Test("every moderator and host action is listed here")
    func coverage() {
        let listed = Set(staffOnlyMessages.map(\.kind))
        let required = Set(ClientMessage.Kind.allCases.filter { $0.requiredRole >= .moderator })
        #expect(listed == required)
    }

    @Test("a viewer cannot perform a moderator or host action", arguments: staffOnlyMessages)
    func viewerRefused(message: ClientMessage) {
        var room = makeRoom()
        let before = room.seq
        let update = room.send(message, from: viewer(1))
        #expect(update.errorCode == .forbidden)
        #expect(update.records.isEmpty)
        #expect(update.broadcasts.isEmpty)
        #expect(room.seq == before)
    }

    @Test("a moderator cannot perform a host action", arguments: hostOnlyMessages)
    func moderatorRefused(message: ClientMessage) {
        var room = makeRoom()
        #expect(room.send(message, from: moderator).errorCode == .forbidden)
    }

    @Test("a guest may only read and react", arguments: viewerMessages)
    func guestRefused(message: ClientMessage) {
        var room = makeRoom { $0.allowsAnonymous = true }
        #expect(room.send(message, from: guest).errorCode == .forbidden)
    }

    @Test("a guest may react and ping where anonymous viewers are allowed")
    func guestReacts() throws {
        var room = makeRoom { $0.allowsAnonymous = true }
        try room.join(guest)
        #expect(room.send(.reaction(.init(emoji: "🔥")), from: guest).isAck)
        let pong = room.send(.ping(.init(clientTime: at(-1))), from: guest, at: at(2))
        #expect(pong.reply == ServerEnvelope(id: "req", .pong(.init(serverTime: at(2), clientTime: at(-1)))))
    }

    @Test("guests cannot join or react where anonymous viewers are not allowed")
    func guestsNotAllowed() {
        var room = makeRoom()
        #expect(throws: InteractionError.self) { try room.join(guest) }
        #expect(room.send(.reaction(.init(emoji: "🔥")), from: guest).errorCode == .forbidden)
    }

    @Test("roles are ordered guest < viewer < moderator < host")
    func ordering() {
        #expect(Role.allCases.sorted() == [.guest, .viewer, .moderator, .host])
        #expect(!Role.viewer.isStaff && Role.moderator.isStaff && Role.host.isStaff)
    }
}
