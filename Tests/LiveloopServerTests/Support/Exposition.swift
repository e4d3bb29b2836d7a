import Foundation
import LiveloopClient
import NIOCore

/// A Prometheus text exposition as the tests read it: the metric families (`# TYPE` lines) and every sample's value.
struct Exposition {
    /// Family name → type (`counter`, `gauge`, `histogram`).
    var families: [String: String] = [:]
    /// `name{labels}` exactly as written (or `name` alone) → value.
    var samples: [String: Double] = [:]

    init(_ text: String) {
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count >= 4 { families[String(parts[2])] = String(parts[3]) }
            } else if !line.hasPrefix("#"), let space = line.lastIndex(of: " ") {
                samples[String(line[..<space])] = Double(line[line.index(after: space)...])
            }
        }
    }

    /// The value of `name` with exactly these labels (in the order the server writes them), nil when absent.
    func value(_ name: String, _ labels: [(String, String)] = []) -> Double? {
        guard !labels.isEmpty else { return samples[name] }
        return samples[name + "{" + labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",") + "}"]
    }

    /// Whether a query may name `metric`: a family, or a histogram's `_bucket`, `_sum` or `_count` series.
    func exposes(_ metric: String) -> Bool {
        if families[metric] != nil { return true }
        for suffix in ["_bucket", "_sum", "_count"] where metric.hasSuffix(suffix) {
            if families[String(metric.dropLast(suffix.count))] == "histogram" { return true }
        }
        return false
    }

    /// Scrapes a test server's `/metrics`.
    static func scrape(_ server: TestServer) async throws -> (text: String, exposition: Exposition) {
        let response = try await server.get("/metrics")
        let text = String(buffer: response.body)
        return (text, Exposition(text))
    }
}
