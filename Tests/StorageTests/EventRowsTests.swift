import Foundation
import Storage
import Testing

/// The analytics reads of the event log: by record kind (payload prefix) and by id range, per channel.
@Suite struct EventRowsTests {
    @Test("records are found by their kind's prefix and by id range, in log order, for their channel only")
    func prefixesAndRanges() async throws {
        let temporary = try TemporaryStore()
        let store = temporary.store
        let payloads = [
            #"{"broadcastStarted":{"broadcastID":"b1","at":1}}"#, #"{"vote":{"pollID":"p","sub":"u","choices":[0],"at":2}}"#,
            #"{"viewerSample":{"count":3,"at":3}}"#, #"{"broadcastEnded":{"broadcastID":"b1","at":4}}"#,
        ]
        try await store.appendEvents(payloads.map { ("show", Data($0.utf8)) } + [("other", Data(payloads[0].utf8))])
        let prefix = { (kind: String) in Data("{\"\(kind)\":".utf8) }

        let lifecycle = try store.eventRows(channel: "show", startingWith: [prefix("broadcastStarted"), prefix("broadcastEnded")])
        #expect(lifecycle.map { String(decoding: $0.payload, as: UTF8.self) } == [payloads[0], payloads[3]])
        #expect(lifecycle[0].id < lifecycle[1].id)
        let before = try store.eventRows(channel: "show", startingWith: [prefix("broadcastEnded"), prefix("viewerSample")],
                                         before: lifecycle[1].id)
        #expect(before.map { String(decoding: $0.payload, as: UTF8.self) } == [payloads[2]])
        // A kind is matched whole, with its closing quote and colon: `{"vot":` is not `{"vote":`.
        #expect(try store.eventRows(channel: "show", startingWith: [prefix("vot")]).isEmpty)

        let range = try store.eventRows(channel: "show", from: lifecycle[0].id, until: lifecycle[1].id)
        #expect(range.map { String(decoding: $0.payload, as: UTF8.self) } == Array(payloads[0..<3]))
        #expect(try store.eventRows(channel: "show", from: lifecycle[0].id).count == 4)
        #expect(try store.eventRows(channel: "other", startingWith: [prefix("broadcastStarted")]).count == 1)
    }
}
