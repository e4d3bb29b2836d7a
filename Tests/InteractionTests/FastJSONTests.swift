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
