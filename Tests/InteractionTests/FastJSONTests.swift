import Foundation
import Testing
@testable import Interaction

@Suite("Fast JSON")
struct FastJSONTests {
    @Test("a vote record reads back as the same record", arguments: ["u-1", "quote\"back\\slash", "tab\tnew\nline\u{1}", "émoji 🔥"])
    func voteRecord(sub: String) throws {
        let choices = try #require(Choices(indices: [0, 3, 15]))
        let bytes = FastJSON.voteRecord(pollID: "p7", sub: sub, choices: choices, at: Timestamp(unixMilliseconds: 1_767_229_200_123))
        let decoded = try JSONDecoder().decode(Record.self, from: Data(bytes))
        #expect(decoded == .vote(pollID: "p7", sub: sub, choices: choices, at: Timestamp(unixMilliseconds: 1_767_229_200_123)))
    }

    @Test("a cue payload is valid JSON whatever the host named the offer")
    func cuePayload() throws {
        let bytes = FastJSON.cuePayload(type: "offer.show", seq: 42, ref: "mug \"XL\"\\\n")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(object["type"] as? String == "offer.show")
        #expect(object["seq"] as? Int == 42)
        #expect(object["ref"] as? String == "mug \"XL\"\\\n")
        #expect(try JSONSerialization.jsonObject(with: Data(FastJSON.cuePayload(type: "poll.launch", seq: 1, ref: nil))) is [String: Any])
    }

    @Test("an ack reads back as an ack with the same id", arguments: ["r1", "a\"b\\c\u{7}"])
    func ack(id: String) throws {
        let envelope = try ServerEnvelope.decode(Data(FastJSON.ack(id: id)))
        #expect(envelope == ServerEnvelope(id: id, .ack(.init())))
    }
}

@Suite("Fast vote reader")
struct FastVoteDecoderTests {
    static func fast(_ text: String) -> ClientRequest? {
        Array(text.utf8).withUnsafeBufferPointer { FastVoteDecoder.decode($0) }
    }

    static func general(_ text: String) -> ClientRequest? {
        try? ClientRequest.decodeGenerally(Data(text.utf8)).get()
    }

    @Test("the frames pages, the SDK and the load test send are read, with the values JSONDecoder reads",
          arguments: [
              #"{"v":1,"type":"poll.vote","id":"r7","pollID":"p1","choices":[0]}"#,
              #"{"type":"poll.vote","pollID":"p1","choices":[2,0,1]}"#,
              #"{ "pollID" : "p_9" , "choices" : [ 3 ] , "type" : "poll.vote" , "id" : "vote-42" , "v" : 1 }"#,
              "{\n\t\"type\": \"poll.vote\",\n\t\"pollID\": \"pé\",\n\t\"choices\": []\n}",
              #"{"type":"poll.vote","pollID":"p1","choices":[123456789],"id":""}"#,
          ])
    func takes(frame: String) throws {
        let fast = try #require(Self.fast(frame))
        #expect(fast == Self.general(frame))
    }

    @Test("anything else is left to the general decoder (which words the error or reads it)",
          arguments: [
              #"{"v":2,"type":"poll.vote","pollID":"p1","choices":[0]}"#,        // another version
              #"{"v":1.0,"type":"poll.vote","pollID":"p1","choices":[0]}"#,      // a number written otherwise
              #"{"type":"poll.vote","pollID":"p\u0031","choices":[0]}"#,         // an escape
              #"{"type":"poll.vote","pollID":"p1","choices":[01]}"#,             // a leading zero (not JSON)
              #"{"type":"poll.vote","pollID":"p1","choices":[-1]}"#,
              #"{"type":"poll.vote","pollID":"p1","choices":[1e0]}"#,
              #"{"type":"poll.vote","pollID":"p1","choices":[0],"extra":true}"#,   // another key
              #"{"type":"poll.vote","type":"poll.vote","pollID":"p1","choices":[0]}"#,
              #"{"type":"quiz.answer","pollID":"p1","choices":[0]}"#,
              #"{"type":"poll.vote","choices":[0]}"#,                              // no pollID
              #"{"type":"poll.vote","pollID":"p1","choices":[0]} x"#,              // trailing bytes
              #"{"type":"poll.vote","pollID":"p1","choices":[0],}"#,
              #"{"type":"poll.vote","pollID":"p1","choices":[0]"#,
              #"{"type":"poll.vote","pollID":"p1","choices":[1234567890]}"#,
              #"{"type":"poll.vote","pollID":null,"choices":[0]}"#,
          ])
    func declines(frame: String) {
        #expect(Self.fast(frame) == nil)
    }

    @Test("on ten thousand mutated frames it never reads anything JSONDecoder would read differently")
    func mutations() {
        var generator = SystemRandomNumberGenerator()
        let seeds = [#"{"v":1,"type":"poll.vote","id":"r7","pollID":"p1","choices":[0,2]}"#,
                     #"{ "type" : "poll.vote", "pollID" : "abc", "choices" : [ 10 ] }"#]
        let alphabet = Array(#"{}[]":,. 0123456789-+eEvtypolcshid\"#.utf8) + [0x00, 0x0A, 0xC3, 0xFF]
        var taken = 0
        for round in 0..<10_000 {
            var bytes = Array(seeds[round % seeds.count].utf8)
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[at] = alphabet.randomElement(using: &generator) ?? 0
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet.randomElement(using: &generator) ?? 0, at: at)
                }
                if bytes.isEmpty { bytes = [0x7B] }
            }
            let fast = bytes.withUnsafeBufferPointer { FastVoteDecoder.decode($0) }
            guard let fast else { continue }
            taken += 1
            let general = try? ClientRequest.decodeGenerally(Data(bytes)).get()
            #expect(general == fast, "\(String(decoding: bytes, as: UTF8.self))")
        }
        #expect(taken > 100, "some mutations (spaces, other digits, ids) are still votes the fast reader takes")
    }
}
