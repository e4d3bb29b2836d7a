import LiveMedia
import Testing

@Suite("Playlist request and file names")
struct PlaylistRequestTests {
    static let good: [([String: String], PlaylistRequest)] = [
        ([:], PlaylistRequest()),
        (["_HLS_msn": "0"], PlaylistRequest(msn: 0)),
        (["_HLS_msn": "42"], PlaylistRequest(msn: 42)),
        (["_HLS_msn": "42", "_HLS_part": "3"], PlaylistRequest(msn: 42, part: 3)),
        (["_HLS_msn": "7", "_HLS_part": "0", "_HLS_skip": "YES"], PlaylistRequest(msn: 7, part: 0, skip: true)),
        (["_HLS_skip": "YES"], PlaylistRequest(skip: true)),
        (["_HLS_skip": "v2"], PlaylistRequest(skip: true)),
        (["_HLS_skip": "NO"], PlaylistRequest()),
        (["other": "x"], PlaylistRequest()),
    ]

    @Test("good queries read as the request they name", arguments: good)
    func goodQueries(query: [String: String], expected: PlaylistRequest) throws {
        #expect(try PlaylistRequest(query: query) == expected)
    }

    static let bad: [[String: String]] = [
        ["_HLS_msn": "-1"], ["_HLS_msn": "abc"], ["_HLS_msn": ""], ["_HLS_msn": "1.5"], ["_HLS_msn": "99999999999999999999999"],
        ["_HLS_part": "0"], ["_HLS_msn": "3", "_HLS_part": "-2"], ["_HLS_msn": "3", "_HLS_part": "x"], ["_HLS_msn": "x", "_HLS_part": "1"],
    ]

    @Test("malformed values, and _HLS_part without _HLS_msn, are a bad request", arguments: bad)
    func badQueries(query: [String: String]) {
        #expect {
            try PlaylistRequest(query: query)
        } throws: { error in
            if case .badRequest = error as? HLSRequestError { return true }
            return false
        }
    }

    @Test("file names round trip", arguments: [0, 1, 9, 10, 12_345])
    func namesRoundTrip(number: Int) {
        #expect(HLSNames.parse(HLSNames.initSegment(number)) == .initSegment(number))
        #expect(HLSNames.parse(HLSNames.segment(number)) == .segment(number))
        #expect(HLSNames.parse(HLSNames.part(number, 0)) == .part(number, 0))
        #expect(HLSNames.parse(HLSNames.part(3, number)) == .part(3, number))
    }

    @Test("names we never write are not parsed", arguments: [
        "", "index.m3u8", "seg.m4s", "seg1.mp4", "SEG1.m4s", "seg 1.m4s", "seg1.m4s?x=1", "../seg1.m4s", "seg-1.m4s", "seg+1.m4s",
        "seg01.m4s", "seg1e3.m4s", "seg١.m4s", "init.mp4", "init0.m4s", "init-1.mp4", "part1.m4s", "part.m4s", "part1..m4s",
        "part.1.m4s", "part1.2.3.m4s", "part-1.0.m4s", "part1.-2.m4s", "part1.02.m4s", "seg99999999999999999999.m4s",
    ])
    func junkNames(name: String) {
        #expect(HLSNames.parse(name) == nil)
    }
}
