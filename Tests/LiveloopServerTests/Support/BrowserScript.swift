import Foundation
import Testing

/// A Python browser check (Selenium + headless Chromium) run from a Swift test: the script prints one JSON summary as
/// its last line and exits non-zero when a check failed. A real browser on a loaded two-core machine can miss a
/// deadline once; a real defect fails twice, so a failed run is tried once more before the test fails.
struct BrowserScript {
    struct Outcome {
        var status: Int32
        var summaryLine: String
        var errors: String
        /// The summary's `checks` object, when the last line is JSON.
        var summary: [String: Any]?
        var checks: [String: Any]? { summary?["checks"] as? [String: Any] }
    }

    /// Runs `python3 script arguments…`, retrying once, prints the summary line under `label`, and records an issue
    /// when the script failed both times.
    static func run(_ script: String, _ arguments: [String], environment: [String: String] = [:], label: String,
                    sourceLocation: SourceLocation = #_sourceLocation) async throws -> Outcome {
        let command = [script] + arguments
        var (status, out, err) = try await Tools.output("python3", command, environment: environment)
        if status != 0 {
            print("\(label) run failed once, retrying: \(out.split(separator: "\n").last ?? "")")
            (status, out, err) = try await Tools.output("python3", command, environment: environment)
        }
        let summaryLine = out.split(separator: "\n").last.map(String.init) ?? ""
        print("\(label): \(summaryLine)")
        let name = URL(fileURLWithPath: script).lastPathComponent
        #expect(status == 0, "\(name): \(summaryLine)\n\(err.suffix(2000))", sourceLocation: sourceLocation)
        let summary = (try? JSONSerialization.jsonObject(with: Data(summaryLine.utf8))) as? [String: Any]
        return Outcome(status: status, summaryLine: summaryLine, errors: err, summary: summary)
    }
}
