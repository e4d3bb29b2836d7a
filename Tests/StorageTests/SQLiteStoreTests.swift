import Foundation
import Storage
import Testing

/// A store in a fresh temporary directory, removed when the test is done with it.
struct TemporaryStore: ~Copyable {
    let directory: URL
    let store: SQLiteStore

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("liveloop-storage-\(UUID().uuidString)")
        store = try SQLiteStore(directory: directory.path)
    }

    /// Another store on the same directory, as the CLI opens next to a running server.
    func reopen() throws -> SQLiteStore {
        try SQLiteStore(directory: directory.path)
    }

    /// Every byte SQLite keeps on disk: the database and its write-ahead log.
    func fileBytes() throws -> [UInt8] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(names.contains("liveloop.sqlite"))
        return try names.filter { $0.hasPrefix("liveloop.sqlite") }.flatMap { name in
            [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }
}

extension [UInt8] {
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return false }
        return indices.dropLast(needle.count - 1).contains { self[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}

@Suite("SQLite store")
struct SQLiteStoreTests {
    // MARK: Channels

    @Test("a created channel is listed, found by name and by its stream key")
    func createAndFind() throws {
        let temporary = try TemporaryStore()
        let store = temporary.store
        let createdAt = Date(timeIntervalSince1970: 1_750_000_000)
        let (channel, key) = try store.createChannel(name: "studio-1", now: createdAt)
        #expect(channel == Channel(name: "studio-1", createdAt: createdAt, allowAnonymous: false))
        #expect(try store.channels() == [channel])
        #expect(try store.channel(named: "studio-1") == channel)
        #expect(try store.channel(forStreamKey: key) == channel)
        #expect(try store.channel(named: "other") == nil)
    }

    @Test("channels are listed in name order")
    func listing() throws {
        let temporary = try TemporaryStore()
        for name in ["zeta", "alpha", "m_1", "9lives"] { _ = try temporary.store.createChannel(name: name) }
        #expect(try temporary.store.channels().map(\.name) == ["9lives", "alpha", "m_1", "zeta"])
    }

    @Test("stream keys are sk_ and at least 128 bits of randomness, different every time")
    func keyShape() throws {
        let temporary = try TemporaryStore()
        var keys: Set<String> = []
        for index in 0..<50 {
            let key = try temporary.store.createChannel(name: "c\(index)").streamKey
            #expect(key.hasPrefix("sk_"))
            let secret = key.dropFirst(3)
            #expect(secret.allSatisfy { $0.isHexDigit })
            #expect(secret.count * 4 >= 128, "\(secret.count) hex digits")
            keys.insert(key)
        }
        #expect(keys.count == 50)
        // Every hex digit shows up across 50 keys of 40 digits: the bytes are not stuck or truncated.
        let digits = Set(keys.flatMap { $0.dropFirst(3) })
        #expect(digits == Set("0123456789abcdef"))
    }

    @Test("the plaintext stream key is nowhere in the database or its write-ahead log")
    func keyNotStored() throws {
        let temporary = try TemporaryStore()
        let key = try temporary.store.createChannel(name: "secret-channel").streamKey
        let rotated = try temporary.store.rotateKey(name: "secret-channel")
        let admin = try #require(try temporary.store.ensureAdminKey())
        let bytes = try temporary.fileBytes()
        #expect(bytes.containsSubsequence(Array("secret-channel".utf8)), "the channel row is in these files")
        for secret in [key, rotated, admin] {
            #expect(!bytes.containsSubsequence(Array(secret.utf8)), "a key in plaintext on disk")
            #expect(!bytes.containsSubsequence(Array(secret.dropFirst(3).utf8)), "a key's random part on disk")
        }
    }

    @Test("rotating a key makes the old one stop working at once and the new one work")
    func rotate() throws {
        let temporary = try TemporaryStore()
        let old = try temporary.store.createChannel(name: "live").streamKey
        let new = try temporary.store.rotateKey(name: "live")
        #expect(new != old)
        #expect(try temporary.store.channel(forStreamKey: old) == nil)
        #expect(try temporary.store.channel(forStreamKey: new)?.name == "live")
    }

    @Test("a wrong stream key matches no channel", arguments: ["", "sk_", "sk_0000000000000000000000000000000000000000", "not-a-key"])
    func wrongKey(key: String) throws {
        let temporary = try TemporaryStore()
        let real = try temporary.store.createChannel(name: "live").streamKey
        #expect(try temporary.store.channel(forStreamKey: key) == nil)
        #expect(try temporary.store.channel(forStreamKey: real.uppercased()) == nil, "keys are case-sensitive")
        #expect(try temporary.store.channel(forStreamKey: real + " ") == nil)
    }

    @Test("a deleted channel is gone, and so is its key")
    func delete() throws {
        let temporary = try TemporaryStore()
        let key = try temporary.store.createChannel(name: "gone").streamKey
        _ = try temporary.store.createChannel(name: "kept")
        try temporary.store.deleteChannel(name: "gone")
        #expect(try temporary.store.channels().map(\.name) == ["kept"])
        #expect(try temporary.store.channel(forStreamKey: key) == nil)
        // The name is free again, with a new key.
        let again = try temporary.store.createChannel(name: "gone").streamKey
        #expect(again != key)
    }

    @Test("rotating or deleting a channel that does not exist is channelNotFound")
    func missingChannel() throws {
        let temporary = try TemporaryStore()
        #expect(throws: StoreError.channelNotFound("ghost")) { try temporary.store.rotateKey(name: "ghost") }
        #expect(throws: StoreError.channelNotFound("ghost")) { try temporary.store.deleteChannel(name: "ghost") }
    }

    @Test("names that are not 1–64 of a–z, 0–9, '-' and '_' starting with a letter or digit are refused", arguments: [
        "", "UPPER", "a b", "../x", String(repeating: "a", count: 65), "-x", "_x", "x/y", "x.y", "é", "x\n", "a\u{0}b", "ｆｕｌｌ",
    ])
    func invalidNames(name: String) throws {
        let temporary = try TemporaryStore()
        #expect(throws: StoreError.invalidChannelName(name)) { try temporary.store.createChannel(name: name) }
        #expect(try temporary.store.channels().isEmpty)
    }

    @Test("names at the edges of the rules are accepted", arguments: ["a", "0", String(repeating: "z", count: 64), "a-b_c", "x-", "9_"])
    func validNames(name: String) throws {
        let temporary = try TemporaryStore()
        #expect(try temporary.store.createChannel(name: name).0.name == name)
    }

    @Test("a second channel with the same name is channelExists, and the first keeps its key")
    func duplicate() throws {
        let temporary = try TemporaryStore()
        let key = try temporary.store.createChannel(name: "live").streamKey
        #expect(throws: StoreError.channelExists("live")) { try temporary.store.createChannel(name: "live") }
        #expect(try temporary.store.channel(forStreamKey: key)?.name == "live")
        #expect(try temporary.store.ensureChannel(name: "live") == nil, "ensureChannel leaves an existing channel alone")
        let created = try #require(try temporary.store.ensureChannel(name: "new"))
        #expect(try temporary.store.channel(forStreamKey: created)?.name == "new")
    }

    @Test("two stores on the same directory see each other's writes at once")
    func sharedDirectory() throws {
        let temporary = try TemporaryStore()
        let server = temporary.store
        let cli = try temporary.reopen()

        let key = try cli.createChannel(name: "from-cli").streamKey
        #expect(try server.channel(forStreamKey: key)?.name == "from-cli")

        let rotated = try cli.rotateKey(name: "from-cli")
        #expect(try server.channel(forStreamKey: key) == nil)
        #expect(try server.channel(forStreamKey: rotated)?.name == "from-cli")

        _ = try server.createChannel(name: "from-server")
        #expect(try cli.channels().map(\.name) == ["from-cli", "from-server"])

        try cli.deleteChannel(name: "from-server")
        #expect(try server.channel(named: "from-server") == nil)

        let admin = try #require(try server.ensureAdminKey())
        #expect(try cli.verifyAdminKey(admin))
        #expect(try cli.ensureAdminKey() == nil)
    }

    // MARK: Admin key and secrets

    @Test("the admin key is created once, verifies, and a rotation invalidates the old one")
    func adminKey() throws {
        let temporary = try TemporaryStore()
        let store = temporary.store
        #expect(try store.verifyAdminKey("anything") == false, "no key yet")
        let key = try #require(try store.ensureAdminKey())
        #expect(key.hasPrefix("ak_"))
        #expect(try store.ensureAdminKey() == nil, "shown only when created")
        #expect(try store.verifyAdminKey(key))
        #expect(try store.verifyAdminKey(key + "0") == false)
        #expect(try store.verifyAdminKey("") == false)
        #expect(try store.verifyAdminKey(String(key.dropLast())) == false)

        let rotated = try store.rotateAdminKey()
        #expect(rotated != key)
        #expect(try store.verifyAdminKey(key) == false)
        #expect(try store.verifyAdminKey(rotated))
        #expect(try temporary.reopen().verifyAdminKey(rotated), "the key survives reopening")
    }

    @Test("a stream key is not an admin key, nor the other way round")
    func keysAreSeparate() throws {
        let temporary = try TemporaryStore()
        let streamKey = try temporary.store.createChannel(name: "live").streamKey
        let admin = try #require(try temporary.store.ensureAdminKey())
        #expect(try temporary.store.verifyAdminKey(streamKey) == false)
        #expect(try temporary.store.channel(forStreamKey: admin) == nil)
    }

    @Test("a named secret is created on first use and the same afterwards, also from another store")
    func namedSecret() throws {
        let temporary = try TemporaryStore()
        let secret = try temporary.store.secret(named: "jwt")
        #expect(secret.count == 32)
        #expect(try temporary.store.secret(named: "jwt") == secret)
        #expect(try temporary.reopen().secret(named: "jwt") == secret)
        #expect(try temporary.store.secret(named: "other") != secret)
    }

    @Test("secrets compare equal only when every byte matches")
    func constantTimeEquals() {
        let a = Secrets.hash("sk_abc")
        #expect(Secrets.constantTimeEquals(a, Secrets.hash("sk_abc")))
        #expect(!Secrets.constantTimeEquals(a, Secrets.hash("sk_abd")))
        #expect(!Secrets.constantTimeEquals(a, a.dropLast()))
        #expect(!Secrets.constantTimeEquals(Data(), a))
        #expect(Secrets.constantTimeEquals(Data(), Data()))
    }
}
