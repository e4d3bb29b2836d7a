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

    @Test("an ack reads back as an ack with the same id", arguments: ["r1", "a\"b\\c\u{7}"])
    func ack(id: String) throws {
        let envelope = try ServerEnvelope.decode(Data(FastJSON.ack(id: id)))
        #expect(envelope == ServerEnvelope(id: id, .ack(.init())))
    }
}
