import Foundation
import Storage
import Testing

/// The analytics reads of the event log and multistream destinations through `Store`, against SQLite and PostgreSQL.
@Suite struct StoreAnalyticsTests {
    @Test("event rows: found by their kind's prefix and by id range, in log order, for their channel only",
          arguments: StoreKind.allCases)
    func eventRows(kind: StoreKind) async throws {
        try await kind.with { store in
            let payloads = [
                #"{"broadcastStarted":{"broadcastID":"b1","at":1}}"#, #"{"vote":{"pollID":"p","sub":"u","choices":[0],"at":2}}"#,
                #"{"viewerSample":{"count":3,"at":3}}"#, #"{"broadcastEnded":{"broadcastID":"b1","at":4}}"#,
            ]
            try await store.appendEvents(payloads.map { ("show", Data($0.utf8)) } + [("other", Data(payloads[0].utf8))])
            let prefix = { (kind: String) in Data("{\"\(kind)\":".utf8) }
            let text = { (rows: [EventRow]) in rows.map { String(decoding: $0.payload, as: UTF8.self) } }

            let lifecycle = try await store.eventRows(channel: "show", startingWith: [prefix("broadcastStarted"), prefix("broadcastEnded")])
            #expect(text(lifecycle) == [payloads[0], payloads[3]])
            try #require(lifecycle.count == 2)
            #expect(lifecycle[0].id < lifecycle[1].id)
            let before = try await store.eventRows(channel: "show", startingWith: [prefix("broadcastEnded"), prefix("viewerSample")],
                                                   before: lifecycle[1].id)
            #expect(text(before) == [payloads[2]])
            // A kind is matched whole, with its closing quote and colon: `{"vot":` is not `{"vote":`.
            #expect(try await store.eventRows(channel: "show", startingWith: [prefix("vot")]).isEmpty)
            #expect(try await store.eventRows(channel: "show", startingWith: []).isEmpty)

            let range = try await store.eventRows(channel: "show", from: lifecycle[0].id, until: lifecycle[1].id)
            #expect(text(range) == Array(payloads[0..<3]))
            #expect(try await store.eventRows(channel: "show", from: lifecycle[0].id).count == 4)
            #expect(try await store.eventRows(channel: "show", from: lifecycle[1].id + 1).isEmpty)
            #expect(try await store.eventRows(channel: "other", startingWith: [prefix("broadcastStarted")]).count == 1)
        }
    }

    @Test("destinations: added up to the limit, listed oldest first, toggled, deleted, per channel, gone with the channel",
          arguments: StoreKind.allCases)
    func destinations(kind: StoreKind) async throws {
        try await kind.with { store in
            _ = try await store.createChannel(name: "show")
            _ = try await store.createChannel(name: "other")
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            let youtube = try await store.createDestination(channel: "show", name: "YouTube", url: "rtmp://a.example/live2",
                                                            key: "abcd-efgh-ijkl-1234", enabled: true, limit: 2, now: start)
            #expect(youtube.id.hasPrefix("ds_") && youtube.key.revealed == "abcd-efgh-ijkl-1234" && youtube.key.masked == "••••1234")
            let twitch = try await store.createDestination(channel: "show", name: "Twitch", url: "rtmps://b.example/app",
                                                           key: "live_999", enabled: false, limit: 2, now: start.addingTimeInterval(1))
            await #expect {
                try await store.createDestination(channel: "show", name: "Third", url: "rtmp://c.example/x", key: "k", enabled: true, limit: 2)
            } throws: { ($0 as? DestinationLimitReached)?.limit == 2 }
            await #expect(throws: StoreError.channelNotFound("missing")) {
                try await store.createDestination(channel: "missing", name: "X", url: "rtmp://c.example/x", key: "k", enabled: true, limit: 2)
            }
            let listed = try await store.destinations(channel: "show")
            #expect(listed.map(\.id) == [youtube.id, twitch.id])
            #expect(listed.first == youtube, "stored as given: name, URL, key, enabled, creation time")
            #expect(try await store.destinations(channel: "other").isEmpty)
            #expect(try await store.destination(id: twitch.id, channel: "show")?.name == "Twitch")
            #expect(try await store.destination(id: twitch.id, channel: "other") == nil, "another channel's id finds nothing")

            let enabled = try await store.setDestination(id: twitch.id, channel: "show", enabled: true)
            #expect(enabled?.enabled == true && enabled?.name == "Twitch")
            #expect(try await store.destination(id: twitch.id, channel: "show")?.enabled == true)
            #expect(try await store.setDestination(id: twitch.id, channel: "other", enabled: false) == nil)
            #expect(try await store.setDestination(id: "ds_none", channel: "show", enabled: false) == nil)

            #expect(try await store.deleteDestination(id: youtube.id, channel: "other") == false)
            #expect(try await store.deleteDestination(id: youtube.id, channel: "show"))
            #expect(try await store.deleteDestination(id: youtube.id, channel: "show") == false)
            #expect(try await store.destinations(channel: "show").map(\.id) == [twitch.id])

            try await store.deleteChannel(name: "show")
            _ = try await store.createChannel(name: "show")
            #expect(try await store.destinations(channel: "show").isEmpty, "a channel made again starts with none")
        }
    }
}
