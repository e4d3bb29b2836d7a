import Foundation
import Storage
import Testing

/// Every `Store` method against SQLite and PostgreSQL: the same calls, the same answers.
@Suite struct StoreTests {
    @Test("channels: created once with a key that finds them, listed, rotated, deleted; bad names and unknown ones refused",
          arguments: StoreKind.allCases)
    func channels(kind: StoreKind) async throws {
        try await kind.with { store in
            let (created, key) = try await store.createChannel(name: "studio")
            #expect(created.name == "studio" && created.tenantID == Tenant.defaultID && !created.allowAnonymous)
            #expect(key.hasPrefix("sk_"))
            await #expect(throws: StoreError.channelExists("studio")) { try await store.createChannel(name: "studio") }
            await #expect(throws: StoreError.invalidChannelName("Bad Name")) { try await store.createChannel(name: "Bad Name") }
            await #expect(throws: StoreError.invalidChannelName("whip")) { try await store.createChannel(name: "whip") }  // /live/whip is WHIP
            await #expect(throws: StoreError.tenantNotFound("tn_nobody")) {
                try await store.createChannel(name: "orphan", tenant: "tn_nobody")
            }
            #expect(try await store.ensureChannel(name: "studio") == nil)
            let second = try #require(try await store.ensureChannel(name: "annex"))
            #expect(try await store.channels().map(\.name) == ["annex", "studio"])
            #expect(try await store.channel(named: "studio")?.name == "studio")
            #expect(try await store.channel(named: "missing") == nil)
            #expect(try await store.channel(forStreamKey: key)?.name == "studio")
            #expect(try await store.channel(forStreamKey: second)?.name == "annex")
            #expect(try await store.channel(forStreamKey: "sk_wrong") == nil)

            let rotated = try await store.rotateKey(name: "studio")
            #expect(rotated != key)
            #expect(try await store.channel(forStreamKey: key) == nil)
            #expect(try await store.channel(forStreamKey: rotated)?.name == "studio")
            await #expect(throws: StoreError.channelNotFound("missing")) { try await store.rotateKey(name: "missing") }

            try await store.deleteChannel(name: "annex")
            #expect(try await store.channels().map(\.name) == ["studio"])
            #expect(try await store.channel(forStreamKey: second) == nil)
            await #expect(throws: StoreError.channelNotFound("annex")) { try await store.deleteChannel(name: "annex") }
        }
    }

    @Test("the admin key is made once, verified in constant time, replaced by a rotation", arguments: StoreKind.allCases)
    func adminKey(kind: StoreKind) async throws {
        try await kind.with { store in
            #expect(try await store.verifyAdminKey("ak_anything") == false)
            let first = try #require(try await store.ensureAdminKey())
            #expect(first.hasPrefix("ak_"))
            #expect(try await store.ensureAdminKey() == nil)
            #expect(try await store.verifyAdminKey(first))
            let second = try await store.rotateAdminKey()
            #expect(try await store.verifyAdminKey(second))
            #expect(try await store.verifyAdminKey(first) == false)
            #expect(try await store.ensureAdminKey() == nil)
        }
    }

    @Test("publisher and room claims: one node holds a channel, another is refused until the claim goes stale or is released; two nodes racing, one wins",
          arguments: StoreKind.allCases)
    func nodeClaims(kind: StoreKind) async throws {
        try await kind.withDatabase { database in
            let node1 = try await database.open()
            let node2 = try await database.open()
            _ = try await node1.createChannel(name: "show")
            let t0 = Date(timeIntervalSince1970: 1_800_000_000)
            // Each kind is claimed on its own: the room's holder need not be the publisher's.
            for claim in ClaimKind.allCases {
                #expect(try await node1.currentClaim(claim, channel: "show") == nil)
                #expect(try await node1.takeClaim(claim, channel: "show", node: "a", address: "http://10.0.0.1:8080", now: t0, ttl: 10) == nil)
                // The other node sees who holds it, and is refused while the claim is fresh.
                let held = try #require(try await node2.currentClaim(claim, channel: "show"))
                #expect(held.node == "a" && held.address == "http://10.0.0.1:8080" && held.isFresh(at: t0.addingTimeInterval(5), ttl: 10))
                #expect(try await node2.takeClaim(claim, channel: "show", node: "b", address: "http://10.0.0.2:8080", now: t0.addingTimeInterval(5), ttl: 10)?.node == "a")
                // A heartbeat keeps it; the holder claiming again is fine.
                try await node1.refreshClaims(claim, node: "a", now: t0.addingTimeInterval(8))
                #expect(try await node2.takeClaim(claim, channel: "show", node: "b", address: "x", now: t0.addingTimeInterval(15), ttl: 10)?.node == "a")
                #expect(try await node1.takeClaim(claim, channel: "show", node: "a", address: "http://10.0.0.1:8080", now: t0.addingTimeInterval(9), ttl: 10) == nil)
                // Without heartbeats it goes stale and another node takes it over.
                #expect(try await node2.takeClaim(claim, channel: "show", node: "b", address: "http://10.0.0.2:8080", now: t0.addingTimeInterval(30), ttl: 10) == nil)
                #expect(try await node1.currentClaim(claim, channel: "show")?.node == "b")
                // Releasing: only the holder's release counts.
                try await node1.releaseClaim(claim, channel: "show", node: "a")
                #expect(try await node1.currentClaim(claim, channel: "show")?.node == "b")
                try await node2.releaseClaim(claim, channel: "show", node: "b")
                #expect(try await node1.currentClaim(claim, channel: "show") == nil)
                // Two nodes at once on a free channel: exactly one wins.
                async let first = node1.takeClaim(claim, channel: "show", node: "a", address: "a", now: t0.addingTimeInterval(40), ttl: 10)
                async let second = node2.takeClaim(claim, channel: "show", node: "b", address: "b", now: t0.addingTimeInterval(40), ttl: 10)
                let (one, two) = try await (first, second)
                #expect((one == nil) != (two == nil), "one claim wins: \(String(describing: one)) / \(String(describing: two))")
                // A holder found gone is replaced only while its claim is as it was: of two nodes replacing it, one
                // wins and the other is told who did; a claim renewed since is not replaced.
                let gone = try #require(try await node1.currentClaim(claim, channel: "show"))
                async let third = node1.replaceClaim(claim, channel: "show", node: "c", address: "c", now: t0.addingTimeInterval(41), replacing: gone)
                async let fourth = node2.replaceClaim(claim, channel: "show", node: "d", address: "d", now: t0.addingTimeInterval(41), replacing: gone)
                let (three, four) = try await (third, fourth)
                #expect((three == nil) != (four == nil), "one replacement wins: \(String(describing: three)) / \(String(describing: four))")
                #expect(three?.node == "d" || four?.node == "c")
                let winner = try #require(try await node1.currentClaim(claim, channel: "show"))
                try await node1.refreshClaims(claim, node: winner.node, now: t0.addingTimeInterval(42))
                #expect(try await node2.replaceClaim(claim, channel: "show", node: "e", address: "e", now: t0.addingTimeInterval(43), replacing: winner)?.node == winner.node)
                await #expect(throws: StoreError.channelNotFound("nope")) {
                    try await node1.takeClaim(claim, channel: "nope", node: "a", address: "a", now: t0, ttl: 10)
                }
            }
            // The claim goes with its channel.
            let room = try await node2.currentClaim(.room, channel: "show"), publisher = try await node2.currentClaim(.publisher, channel: "show")
            #expect(room != nil && publisher != nil)
            try await node1.deleteChannel(name: "show")
            for claim in ClaimKind.allCases { #expect(try await node2.currentClaim(claim, channel: "show") == nil) }
            await node1.close()
            await node2.close()
        }
    }

    @Test("a server secret is created once: two stores on one database (two nodes) read the same bytes",
          arguments: StoreKind.allCases)
    func secrets(kind: StoreKind) async throws {
        try await kind.withDatabase { database in
            let node1 = try await database.open()
            let node2 = try await database.open()
            #expect(try await node1.storedSecret(named: "jwt") == nil)
            async let fromOne = node1.secret(named: "jwt")
            async let fromTwo = node2.secret(named: "jwt")
            let (one, two) = try await (fromOne, fromTwo)
            #expect(one.count == 32)
            #expect(one == two)
            #expect(try await node2.storedSecret(named: "jwt") == one)
            #expect(try await node1.secret(named: "other") != one)
            await node1.close()
            await node2.close()
        }
    }

    @Test("channel settings, video settings and rundowns are saved, replaced and read back; video settings need the channel",
          arguments: StoreKind.allCases)
    func settings(kind: StoreKind) async throws {
        try await kind.with { store in
            _ = try await store.createChannel(name: "show")
            #expect(try await store.channelSettings(channel: "show") == nil)
            try await store.saveChannelSettings(channel: "show", body: Data(#"{"slowMode":5}"#.utf8), allowAnonymous: true)
            #expect(try await store.channelSettings(channel: "show") == Data(#"{"slowMode":5}"#.utf8))
            #expect(try await store.channel(named: "show")?.allowAnonymous == true)
            try await store.saveChannelSettings(channel: "show", body: Data("{}".utf8), allowAnonymous: false)
            #expect(try await store.channelSettings(channel: "show") == Data("{}".utf8))
            #expect(try await store.channel(named: "show")?.allowAnonymous == false)

            #expect(try await store.videoSettings(channel: "show") == ChannelVideoSettings())
            let video = ChannelVideoSettings(renditions: ["720p", "360p"], record: true)
            try await store.saveVideoSettings(channel: "show", video)
            #expect(try await store.videoSettings(channel: "show") == video)
            await #expect(throws: StoreError.channelNotFound("nope")) {
                try await store.saveVideoSettings(channel: "nope", video)
            }

            #expect(try await store.rundown(channel: "show") == nil)
            try await store.saveRundown(channel: "show", body: Data("[1]".utf8))
            try await store.saveRundown(channel: "show", body: Data("[1,2]".utf8))
            #expect(try await store.rundown(channel: "show") == Data("[1,2]".utf8))

            // Deleting the channel takes its video settings along.
            try await store.deleteChannel(name: "show")
            _ = try await store.createChannel(name: "show")
            #expect(try await store.videoSettings(channel: "show") == ChannelVideoSettings())
        }
    }

    @Test("revocations: a token by id, a subject or a channel from a time on; listed in order; pruned when expired",
          arguments: StoreKind.allCases)
    func revocations(kind: StoreKind) async throws {
        try await kind.with { store in
            let now = Date(timeIntervalSince1970: 1_900_000_000)
            #expect(try await store.latestRevocationID() == 0)
            let token = try await store.revoke(.token(jti: "j1"), at: now, expiresAt: now.addingTimeInterval(60))
            let subject = try await store.revoke(.subject(sub: "ann", channel: "show"), at: now, expiresAt: now.addingTimeInterval(3600))
            let everywhere = try await store.revoke(.channel("*"), at: now.addingTimeInterval(10), expiresAt: now.addingTimeInterval(3600))
            #expect(token.id > 0 && subject.id > token.id && everywhere.id > subject.id)
            #expect(try await store.latestRevocationID() == everywhere.id)

            let before = now.addingTimeInterval(-5), after = now.addingTimeInterval(20)
            #expect(try await store.isRevoked(jti: "j1", sub: "bob", channel: "other", issuedAt: after))
            #expect(try await store.isRevoked(jti: "j2", sub: "ann", channel: "show", issuedAt: before))
            #expect(try await store.isRevoked(jti: "j2", sub: "ann", channel: "show", issuedAt: after) == false)
            #expect(try await store.isRevoked(jti: "j2", sub: "ann", channel: "annex", issuedAt: now.addingTimeInterval(15)) == false)
            #expect(try await store.isRevoked(jti: "j2", sub: "bob", channel: "annex", issuedAt: now.addingTimeInterval(5)))

            #expect(try await store.revocations(after: 0).map(\.scope) ==
                    [.token(jti: "j1"), .subject(sub: "ann", channel: "show"), .channel("*")])
            #expect(try await store.revocations(after: token.id, limit: 1).map(\.id) == [subject.id])
            let listed = try #require(try await store.revocations(after: 0).first)
            #expect(listed == token)

            #expect(try await store.pruneRevocations(at: now.addingTimeInterval(120)) == 1)
            #expect(try await store.revocations(after: 0).map(\.id) == [subject.id, everywhere.id])
            #expect(try await store.isRevoked(jti: "j1", sub: "bob", channel: "other", issuedAt: after) == false)
        }
    }

    @Test("a rotated secret stays accepted for the overlap, then is forgotten", arguments: StoreKind.allCases)
    func secretRotation(kind: StoreKind) async throws {
        try await kind.with { store in
            let now = Date(timeIntervalSince1970: 1_900_000_000)
            let old = try await store.secret(named: "jwt")
            let fresh = try await store.rotateSecret(named: "jwt", overlap: 60, at: now)
            #expect(fresh != old && fresh.count == 32)
            #expect(try await store.storedSecret(named: "jwt") == fresh)
            let retired = try await store.retiredSecrets(named: "jwt", at: now.addingTimeInterval(30))
            #expect(retired.map(\.secret) == [old])
            #expect(retired.first?.retiresAt == now.addingTimeInterval(60))
            #expect(try await store.retiredSecrets(named: "jwt", at: now.addingTimeInterval(61)).isEmpty)
            #expect(try await store.retiredSecrets(named: "other", at: now).isEmpty)
            // A rotation without overlap keeps nothing, and drops what has retired by then.
            let third = try await store.rotateSecret(named: "jwt", overlap: 0, at: now.addingTimeInterval(90))
            #expect(try await store.storedSecret(named: "jwt") == third)
            #expect(try await store.retiredSecrets(named: "jwt", at: now).isEmpty)
        }
    }

    @Test("a store reopened on the same database (a restart) finds what was written", arguments: StoreKind.allCases)
    func reopen(kind: StoreKind) async throws {
        try await kind.withDatabase { database in
            let first = try await database.open()
            let (_, key) = try await first.createChannel(name: "kept")
            let ids = try await first.appendEvents([("kept", Data("vote".utf8))])
            await first.close()
            let second = try await database.open()
            #expect(try await second.channel(forStreamKey: key)?.name == "kept")
            let log = try await second.roomLog(channel: "kept")
            #expect(log.records == [Data("vote".utf8)] && log.lastID == ids["kept"])
            await second.close()
        }
    }
}
