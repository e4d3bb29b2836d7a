import Foundation
import Testing

/// `liveloop bench latency --relay` through the built binary: a second node on the same database relays the
/// broadcast, and its LL-HLS reader gets every frame the origin's does.
@Suite("bench latency --relay", .serialized)
struct BenchLatencyRelayTests {
    @Test("the relay node's reader gets every frame, and the report has its latency beside the origin's",
          .enabled(if: ConfigFileTests.haveBinary, "needs the built liveloop binary"))
    func relayRow() async throws {
        let (status, out, errors) = try await Tools.output(ConfigFileTests.binary, ["bench", "latency", "--relay", "--skip-nginx", "--duration", "3", "--json"])
        #expect(status == 0, "\(errors.suffix(1500))")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let liveloop = try #require(report["liveloop"] as? [String: Any])
        let origin = try #require(liveloop["latency"] as? [String: Any])
        let relayed = try #require(liveloop["relayed"] as? [String: Any], "the report has the relay node's latency")
        #expect((relayed["frames"] as? Int ?? 0) >= 60 && relayed["frames"] as? Int == origin["frames"] as? Int)
        #expect(relayed["lost"] as? Int == 0, "the relay node lost no frame: \(relayed)")
        #expect((relayed["p50"] as? Double).map { $0 > 0 && $0 < 1000 } == true)
    }
}
