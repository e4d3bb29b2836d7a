import Testing
import Interaction

struct DeclineExpensiveGifts: GiftPaymentHook {
    func authorize(_ purchase: GiftPurchase) -> GiftAuthorization {
        purchase.item.value * purchase.count > 50 && purchase.receipt != "paid" ? .declined(reason: "payment required") : .accepted
    }
}

let mug = OfferCard(offerID: "mug", title: "Show mug", price: "12.50", currency: "EUR",
                    imageURL: "https://shop.example/mug.png", link: "https://shop.example/mug")

@Suite("Gifts and offers")
struct GiftsAndOffersTests {
    @Test("a gift is broadcast as a templated rich message")
    func template() {
        var room = makeRoom { $0.giftTemplate = "{name} sent {gift} ({value} coins)" }
        let update = room.send(.giftSend(.init(giftID: "rose", count: 3)), from: viewer(1))
        let gifts = only(update.messages(for: viewer(2))) { if case .gift(let event) = $0 { event } else { nil } }
        #expect(gifts.map(\.text) == ["User 1 sent 3 × Rose 🌹 (3 coins)"])
        #expect(update.ackRef == gifts.first?.giftEventID)
        #expect(update.records.count == 1)
        let single = room.send(.giftSend(.init(giftID: "star")), from: viewer(1))
        #expect(only(single.messages(for: viewer(2))) { if case .gift(let event) = $0 { event.text } else { nil } }
            == ["User 1 sent Star ⭐ (10 coins)"])
    }

    @Test("the top-supporters board ranks by total value and goes out on the tick")
    func supporters() {
        var room = makeRoom()
        room.send(.giftSend(.init(giftID: "rocket")), from: viewer(1))
        room.send(.giftSend(.init(giftID: "star", count: 20)), from: viewer(2))
        room.send(.giftSend(.init(giftID: "like", count: 5)), from: viewer(3))
        room.send(.giftSend(.init(giftID: "star")), from: viewer(1))
        let tick = room.tick(at: at(0.1))
        let boards = only(tick.messages(for: viewer(9))) { if case .supporters(let board) = $0 { board.top } else { nil } }
        #expect(boards.first?.map(\.sub) == ["user-2", "user-1", "user-3"])
        #expect(boards.first?.map(\.total) == [200, 110, 0])
        #expect(room.tick(at: at(0.2)).broadcasts.isEmpty)
    }

    @Test("the payment hook may decline a gift, which then changes nothing")
    func paymentHook() {
        var configuration = RoomConfiguration()
        configuration.rateLimits = .disabled
        var room = Room(configuration: configuration, paymentHook: DeclineExpensiveGifts(), startingSeq: 0)
        let declined = room.send(.giftSend(.init(giftID: "rocket")), from: viewer(1))
        #expect(declined.errorCode == .paymentDeclined)
        #expect(declined.records.isEmpty)
        #expect(room.send(.giftSend(.init(giftID: "rocket", receipt: "paid")), from: viewer(1)).isAck)
        #expect(room.gifts.topSupporters(10).map(\.total) == [100])
    }

    @Test("unknown gifts and bad counts are refused", arguments: [
        (ClientMessage.GiftSend(giftID: "diamond"), ErrorCode.notFound),
        (ClientMessage.GiftSend(giftID: "rose", count: 0), .badRequest),
        (ClientMessage.GiftSend(giftID: "rose", count: 101), .badRequest),
    ])
    func badGifts(send: ClientMessage.GiftSend, code: ErrorCode) {
        var room = makeRoom()
        #expect(room.send(.giftSend(send), from: viewer(1)).errorCode == code)
    }

    @Test("offers are shown and hidden; clicks count in total and once per user")
    func offers() {
        var room = makeRoom()
        let show = room.send(.offerShow(.init(offer: mug)), from: host)
        #expect(show.messages(for: viewer(1)) == [.offer(mug)])
        #expect(room.snapshot(for: viewer(1)).offers == [mug])
        for _ in 0..<3 { #expect(room.send(.offerClick(.init(offerID: "mug")), from: viewer(1)).isAck) }
        #expect(room.send(.offerClick(.init(offerID: "mug")), from: viewer(2)).isAck)
        let tick = room.tick(at: at(0.1))
        #expect(tick.messages(for: host) == [.offerClicks(.init(offerID: "mug", clicks: 4, uniqueClicks: 2))])
        #expect(tick.messages(for: viewer(1)).isEmpty)
        let hide = room.send(.offerHide(.init(offerID: "mug")), from: host)
        #expect(hide.messages(for: viewer(1)) == [.offerHidden(.init(offerID: "mug"))])
        #expect(room.send(.offerClick(.init(offerID: "mug")), from: viewer(3)).errorCode == .notFound)
        #expect(room.send(.offerHide(.init(offerID: "mug")), from: host).errorCode == .notFound)
        #expect(room.snapshot(for: viewer(1)).offers.isEmpty)
        room.send(.offerShow(.init(offer: mug)), from: host)
        #expect(room.offers.entry("mug")?.clicks == 4)
    }

    @Test("offer cards are validated", arguments: [
        OfferCard(offerID: "", title: "t", price: "1", currency: "EUR", link: "https://x.example"),
        OfferCard(offerID: "o", title: "t", price: "1,5", currency: "EUR", link: "https://x.example"),
        OfferCard(offerID: "o", title: "t", price: "-1", currency: "EUR", link: "https://x.example"),
        OfferCard(offerID: "o", title: "t", price: "1.5", currency: "euro", link: "https://x.example"),
        OfferCard(offerID: "o", title: "t", price: "1.5", currency: "EUR", link: "javascript:alert(1)"),
        OfferCard(offerID: "o", title: "t", price: "1.5", currency: "EUR", imageURL: "ftp://x", link: "https://x.example"),
        OfferCard(offerID: "o", title: "t", price: "1.5", currency: "EUR", link: "https://x.example", stock: -1),
        OfferCard(offerID: "o", title: "t", price: "1.5", currency: "EUR", link: "https://x.example", stock: OfferCard.maxStock + 1),
        OfferCard(offerID: "o", title: "t", price: "1.5", currency: "EUR", link: "https://x.example", endsAt: t0),
        OfferCard(offerID: "o", title: "t", price: "1.5", currency: "EUR", link: "https://x.example",
                  endsAt: t0.advanced(by: .seconds(31 * 24 * 3600))),
    ])
    func badOffers(card: OfferCard) {
        var room = makeRoom()
        #expect(room.send(.offerShow(.init(offer: card)), from: host).errorCode == .badRequest)
    }

    @Test("stock and end time reach viewers, and the host changes the stock live keeping the clicks")
    func stockAndCountdown() {
        var room = makeRoom()
        var tee = OfferCard(offerID: "tee", title: "Tee", price: "24.90", currency: "EUR", link: "https://shop.example/tee",
                            stock: 3, endsAt: t0.advanced(by: .seconds(600)))
        #expect(room.send(.offerShow(.init(offer: tee)), from: host).messages(for: viewer(1)) == [.offer(tee)])
        let click = room.send(.offerClick(.init(offerID: "tee", mediaTime: 42.5)), from: viewer(1))
        #expect(click.records == [.offerClicked(offerID: "tee", sub: viewer(1).sub, at: t0, mediaTime: 42.5)])
        #expect(room.send(.offerClick(.init(offerID: "tee", mediaTime: -1)), from: viewer(1)).errorCode == .badRequest)
        #expect(room.send(.offerClick(.init(offerID: "tee", mediaTime: .infinity)), from: viewer(1)).errorCode == .badRequest)
        tee.stock = 0
        let soldOut = room.send(.offerShow(.init(offer: tee)), from: host)
        #expect(soldOut.messages(for: viewer(2)) == [.offer(tee)])
        #expect(room.snapshot(for: viewer(2)).offers.first?.stock == 0)
        #expect(room.offers.entry("tee")?.clicks == 1)
        #expect(room.send(.offerShow(.init(offer: tee)), from: viewer(1)).errorCode == .forbidden)
    }

    @Test("a sponsored poll shows its sponsor to viewers; a bad sponsor is refused and creates nothing")
    func sponsoredPoll() {
        var room = makeRoom()
        let sponsor = Sponsor(name: "Acme", logoURL: "https://acme.example/logo.png", link: "https://acme.example")
        let pollID = room.send(.pollCreate(.init(question: "Q", options: ["a", "b"], sponsor: sponsor)), from: host).ackRef ?? ""
        let launch = room.send(.pollLaunch(.init(pollID: pollID)), from: host)
        let views = only(launch.messages(for: viewer(1))) { if case .poll(let view) = $0 { view } else { nil } }
        #expect(views.map(\.sponsor) == [sponsor])
        #expect(room.snapshot(for: viewer(2)).polls.first?.sponsor == sponsor)
        for bad in [Sponsor(name: " ", link: "https://acme.example"), Sponsor(name: "Acme", link: "javascript:alert(1)"),
                    Sponsor(name: String(repeating: "a", count: 81), link: "https://acme.example"),
                    Sponsor(name: "Acme", logoURL: "data:image/png;base64,AA", link: "https://acme.example")] {
            #expect(room.send(.pollCreate(.init(question: "Q2", options: ["a", "b"], sponsor: bad)), from: host).errorCode == .badRequest)
        }
        #expect(room.snapshot(for: host).polls.count == 1)
    }
}
