import Foundation
import Storage
import Testing

/// Issue #10, point 6: revocations and retired signing secrets in the store, and a data directory only its owner reads.
@Suite("Tokens and file modes in the store")
struct TokenStoreTests {
    let t0 = Date(timeIntervalSince1970: 1_750_000_000)

    func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test("the data directory is created 0700 and the database, its -wal and -shm 0600, whatever the umask")
    func ownerOnly() throws {
        let store = try TemporaryStore()
        _ = try store.store.createChannel(name: "show")
        _ = try store.store.secret(named: "jwtSecret")
        #expect(try mode(store.directory.path) == 0o700)
        let names = try FileManager.default.contentsOfDirectory(atPath: store.directory.path)
        #expect(names.contains("liveloop.sqlite-wal"))
        for name in names where name.hasPrefix("liveloop.sqlite") {
            #expect(try mode(store.directory.appendingPathComponent(name).path) == 0o600, "\(name)")
        }
    }

    @Test("a data directory an older version left readable by others is tightened on open")
    func tightensExisting() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("liveloop-loose-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let database = directory.appendingPathComponent("liveloop.sqlite").path
        _ = FileManager.default.createFile(atPath: database, contents: nil, attributes: [.posixPermissions: 0o644])
        _ = try SQLiteStore(directory: directory.path)
        #expect(try mode(directory.path) == 0o700)
        #expect(try mode(database) == 0o600)
    }

    @Test("a revocation covers its token, or a sub's or a channel's tokens issued up to it, and none issued later")
    func coverage() throws {
        let temporary = try TemporaryStore()
        let store = temporary.store
        let later = t0.addingTimeInterval(1)
        let earlier = t0.addingTimeInterval(-60)
        try store.revoke(.token(jti: "j1"), at: t0, expiresAt: t0.addingTimeInterval(86_400))
        #expect(try store.isRevoked(jti: "j1", sub: "ada", channel: "show", issuedAt: earlier))
        #expect(try !store.isRevoked(jti: "j2", sub: "ada", channel: "show", issuedAt: earlier))
        try store.revoke(.subject(sub: "bob", channel: "show"), at: t0, expiresAt: t0.addingTimeInterval(86_400))
        #expect(try store.isRevoked(jti: "j3", sub: "bob", channel: "show", issuedAt: earlier))
        #expect(try store.isRevoked(jti: "j3", sub: "bob", channel: "show", issuedAt: t0))
        #expect(try !store.isRevoked(jti: "j4", sub: "bob", channel: "show", issuedAt: later), "a token minted after is fine")
        #expect(try !store.isRevoked(jti: "j3", sub: "bob", channel: "other", issuedAt: earlier), "only on that channel")
        #expect(try !store.isRevoked(jti: "j5", sub: "cy", channel: "show", issuedAt: earlier))
        try store.revoke(.channel("show"), at: t0, expiresAt: t0.addingTimeInterval(86_400))
        #expect(try store.isRevoked(jti: "j5", sub: "cy", channel: "show", issuedAt: earlier))
        #expect(try !store.isRevoked(jti: "j5", sub: "cy", channel: "other", issuedAt: earlier))
        try store.revoke(.subject(sub: "dee", channel: "*"), at: t0, expiresAt: t0.addingTimeInterval(86_400))
        #expect(try store.isRevoked(jti: "j6", sub: "dee", channel: "other", issuedAt: earlier), "'*' covers every channel")
        let all = try store.revocations(after: 0)
        #expect(all.map(\.scope) == [.token(jti: "j1"), .subject(sub: "bob", channel: "show"), .channel("show"),
                                     .subject(sub: "dee", channel: "*")])
        #expect(try store.revocations(after: all[1].id).count == 2)
        #expect(try store.latestRevocationID() == all[3].id)
        #expect(all[2].covers(jti: "x", sub: "y", channel: "show", issuedAt: earlier))
        #expect(!all[2].covers(jti: "x", sub: "y", channel: "show", issuedAt: later))
    }

    @Test("revocation records are pruned once every token they cover has expired")
    func pruning() throws {
        let temporary = try TemporaryStore()
        let store = temporary.store
        try store.revoke(.token(jti: "short"), at: t0, expiresAt: t0.addingTimeInterval(60))
        try store.revoke(.channel("show"), at: t0, expiresAt: t0.addingTimeInterval(86_400))
        #expect(try store.pruneRevocations(at: t0.addingTimeInterval(30)) == 0)
        #expect(try store.pruneRevocations(at: t0.addingTimeInterval(61)) == 1)
        #expect(try !store.isRevoked(jti: "short", sub: "a", channel: "x", issuedAt: t0))
        #expect(try store.isRevoked(jti: "any", sub: "a", channel: "show", issuedAt: t0))
        #expect(try store.pruneRevocations(at: t0.addingTimeInterval(86_401)) == 1)
        #expect(try store.revocations(after: 0).isEmpty)
    }

    @Test("rotating a secret keeps the old one as retired for the overlap only; a zero overlap drops it at once")
    func rotation() throws {
        let temporary = try TemporaryStore()
        let store = temporary.store
        let first = try store.secret(named: "jwtSecret")
        let second = try store.rotateSecret(named: "jwtSecret", overlap: 3600, at: t0)
        #expect(second != first)
        #expect(try store.secret(named: "jwtSecret") == second)
        #expect(try store.retiredSecrets(named: "jwtSecret", at: t0.addingTimeInterval(3599)).map(\.secret) == [first])
        #expect(try store.retiredSecrets(named: "jwtSecret", at: t0.addingTimeInterval(3600)).isEmpty)
        let third = try store.rotateSecret(named: "jwtSecret", overlap: 0, at: t0.addingTimeInterval(10))
        #expect(try store.secret(named: "jwtSecret") == third)
        #expect(try store.retiredSecrets(named: "jwtSecret", at: t0.addingTimeInterval(11)).map(\.secret) == [first])
    }

    @Test("a new channel refuses guests until its settings allow them")
    func guestsOffByDefault() throws {
        let temporary = try TemporaryStore()
        let store = temporary.store
        let (channel, _) = try store.createChannel(name: "show")
        #expect(!channel.allowAnonymous)
        #expect(try store.channel(named: "show")?.allowAnonymous == false)
        try store.saveChannelSettings(channel: "show", body: Data("{}".utf8), allowAnonymous: true)
        #expect(try store.channel(named: "show")?.allowAnonymous == true)
    }
}
