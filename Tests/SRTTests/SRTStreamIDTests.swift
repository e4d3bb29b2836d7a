import Testing
@testable import SRT

@Suite("SRT stream id → stream key")
struct SRTStreamIDTests {
    @Test("the accepted forms all carry the stream key", arguments: [
        ("sk_abc123", "sk_abc123"),
        ("live/sk_abc123", "sk_abc123"),
        ("#!::r=live/sk_abc123,m=publish", "sk_abc123"),
        ("#!::r=sk_abc123,m=publish", "sk_abc123"),
        ("#!::m=publish,r=live/sk_abc123", "sk_abc123"),
        ("#!::r=sk_abc123", "sk_abc123"),
        ("#!::u=alice,r=live/sk_abc123,m=publish", "sk_abc123"),
    ])
    func accepted(text: String, key: String) {
        #expect(SRTStreamID(text)?.streamKey == key)
    }

    @Test("a stream id that asks to play, names no resource, or is not text is refused", arguments: [
        "", "#!::r=live/sk_abc,m=request", "#!::m=publish", "#!::r=", "#!::garbage", "live/", "sk abc", "sk\u{7}abc",
        String(repeating: "a", count: 513),
    ])
    func refused(text: String) {
        #expect(SRTStreamID(text) == nil)
    }

    @Test("a server without libsrt says so instead of failing (or with it, the library starts)")
    func libraryLoads() {
        if let library = LibSRT.shared {
            #expect(LibSRT.candidateNames.contains(library.name))
        } else {
            #expect(SRTError.libraryUnavailable.description.contains("libsrt"))
        }
    }
}
