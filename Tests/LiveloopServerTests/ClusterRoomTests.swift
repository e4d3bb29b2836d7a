import Foundation
import NIOHTTP1
import Testing

/// One room across two real nodes on one PostgreSQL (docs/cluster.md, "Rooms across nodes"): A holds the room, B
/// follows it; Python `websockets` clients on both, the host's REST calls through B.
@Suite(.serialized)
struct ClusterRoomTests {
    @Test("a room across two nodes: one seq order on both, a ballot once across nodes, the tally of every ack, resume on the other node, a ban through the follower closes the banned client on it",
          .enabled(if: PostgresServeTests.ready && InteractionGatewayTests.havePythonWebsockets, "needs the built liveloop binary and python3 websockets"))
    func roomAcrossNodes() async throws {
        try await ClusterVideoTests.withTwoNodes("rooms", a: [], b: []) { a, b, admin, _ in
            func token(_ sub: String) async throws -> String {
                let (_, minted) = try await httpRequest(port: a.httpPort, .POST, "/api/v1/channels/show/tokens", bearer: admin,
                                                        body: #"{"sub":"\#(sub)","role":"viewer"}"#)
                return try #require(minted?["token"] as? String)
            }
            let tokens = try await [token("ada"), token("bo"), token("cy"), token("dan")]
            let (status, out, errors) = try await Tools.output("python3", [
                "\(InteractionGatewayTests.pythonDirectory)/ws_cluster_room.py",
                "http://127.0.0.1:\(a.httpPort)", "http://127.0.0.1:\(b.httpPort)", admin,
            ] + tokens)
            #expect(status == 0, "python: \(errors)\nA: \(a.log.suffix(3000))\nB: \(b.log.suffix(3000))")
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
            #expect(seen["room_on_a"] as? Int == 200)
            // The room's viewer count holds both nodes' clients: Ada twice, Bo, Cy, Dan.
            #expect(seen["hello_viewers"] as? Int == 5, "\(seen)")
            #expect(seen["create_via_b"] as? Int == 200 && seen["launch_via_b"] as? Int == 200, "\(seen)")
            // Every client, on either node, got the poll and the chat with the same seq.
            let pollSeqs = try #require(seen["poll_seqs"] as? [Any])
            #expect(pollSeqs.count == 5 && Set(pollSeqs.compactMap { $0 as? Int }).count == 1 && pollSeqs.allSatisfy { $0 is Int }, "\(pollSeqs)")
            let chatSeqs = try #require(seen["chat_seqs"] as? [Any])
            #expect(chatSeqs.count == 5 && Set(chatSeqs.compactMap { $0 as? Int }).count == 1 && chatSeqs.allSatisfy { $0 is Int }, "\(chatSeqs)")
            #expect(seen["chat_ack"] as? String == "ack")
            // Ada's second connection, on the other node, cannot vote twice; every other vote is acknowledged.
            let votes = try #require(seen["votes"] as? [String: String])
            #expect(votes == ["ada@B": "ack", "ada@A": "already_voted", "bo@A": "ack", "cy@B": "ack", "dan@B": "ack"], "\(votes)")
            // The tally, read through B, is the acknowledged votes exactly: tea (Ada, Dan), coffee (Bo, Cy).
            #expect(seen["room_via_b"] as? Int == 200)
            #expect(seen["counts"] as? [Int] == [2, 2], "\(seen)")
            // After 9 s of silence the link still carries both ways.
            #expect(seen["after_quiet"] as? Bool == true && seen["after_quiet_ack"] as? String == "ack", "\(seen)")
            // Resuming on the other node: what was missed, nothing twice.
            #expect(seen["resume_recovered"] as? Bool == true, "\(seen)")
            #expect(seen["resume_missed_chat"] as? Bool == true && seen["resume_no_repeat"] as? Bool == true, "\(seen)")
            // A ban made through B: Cy's connection on B closes; Cy is refused on A too.
            #expect(seen["ban_via_b"] as? Int == 200)
            #expect(seen["banned_closed"] as? Bool == true, "\(seen)")
            #expect(seen["banned_rejoin"] as? String == "banned", "\(seen)")
            #expect(b.log.contains("following the room on its node"), "B follows A's room: \(b.log.suffix(2000))")
        }
    }

    @Test("kill -9 of the room's node mid-vote: every client reconnects to another node, one of which takes the room over from the log; every acknowledged vote is in the tally once, a ballot from before the kill still blocks a second",
          .enabled(if: PostgresServeTests.ready && InteractionGatewayTests.havePythonWebsockets, "needs the built liveloop binary and python3 websockets"),
          arguments: [2, 3])
    func roomFailover(nodeCount: Int) async throws {
        try await ClusterVideoTests.withNodes("room-failover", Array(repeating: [], count: nodeCount)) { nodes, admin, _ in
            let a = nodes[0], survivors = Array(nodes.dropFirst())
            var tokens: [String] = []
            for index in 0..<16 {
                let (_, minted) = try await httpRequest(port: a.httpPort, .POST, "/api/v1/channels/show/tokens", bearer: admin,
                                                        body: #"{"sub":"voter-\#(index)","role":"viewer"}"#)
                tokens.append(try #require(minted?["token"] as? String))
            }
            let (status, out, errors) = try await Tools.output("python3", [
                "\(InteractionGatewayTests.pythonDirectory)/ws_cluster_failover.py", "http://127.0.0.1:\(a.httpPort)",
                survivors.map { "http://127.0.0.1:\($0.httpPort)" }.joined(separator: ","), admin, String(a.process.processIdentifier),
            ] + tokens)
            let logs = survivors.map { $0.log.suffix(3000) }.joined(separator: "\n---\n")
            #expect(status == 0, "python: \(errors)\n\(logs)")
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
            #expect(seen["connected"] as? Int == 16 && seen["launched"] as? Int == 200, "\(seen)")
            #expect(seen["acked_before_kill"] as? Int == 8, "\(seen)")
            #expect(seen["all_disconnected"] as? Bool == true && seen["reconnected"] as? Int == 16, "\(seen)")
            #expect(seen["poll_live_after"] as? Bool == true, "\(seen)")
            #expect(seen["late_answers"] as? [String] == ["ack"], "\(seen)")
            #expect(seen["revote_answers"] as? [String] == ["already_voted"], "ballots from before the kill hold: \(seen)")
            #expect(seen["acked"] as? Int == 16)
            // One room after the kill, whichever survivor took it: the tally read through the first survivor holds
            // the votes made through every survivor.
            #expect(seen["counts"] as? [Int] == seen["expected_counts"] as? [Int] && seen["counts"] as? [Int] == [8, 8], "\(seen)\n\(logs)")
            #expect(survivors.contains { $0.log.contains("taking the room over") }, "\(logs)")
            print("room failover (\(nodeCount) nodes): all 16 clients back \(seen["failover_seconds"] ?? "?") s after kill -9 of the room's node")
        }
    }
}
