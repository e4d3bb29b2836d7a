import ArgumentParser
import Foundation

@main
struct Liveloop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "liveloop",
        abstract: "Interactive live streaming server: RTMP in, LL-HLS out, interactions on top.",
        discussion: """
        Every option can also be set from the environment as LIVELOOP_<OPTION> (e.g. LIVELOOP_HTTP_PORT=9000,
        LIVELOOP_DATA=/var/lib/liveloop, LIVELOOP_DEMO=1); a flag on the command line wins.
        """,
        subcommands: [Serve.self, Channels.self, Token.self, AdminKey.self, Bench.self, LoadTest.self]
    )

    static func main() async {
        let arguments = EnvironmentOptions.apply(to: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// Reads `LIVELOOP_*` variables into command-line options the user did not give.
enum EnvironmentOptions {
    /// Options each subcommand takes from the environment: the variable is LIVELOOP_ + the option in upper snake case.
    static let options: [String: [String]] = [
        "serve": ["--host", "--http-port", "--rtmp-port", "--data", "--public-host", "--part-target", "--segment-target",
                  "--segments", "--reconnect-grace", "--max-connections", "--log-level",
                  "--max-connections-per-address", "--header-timeout", "--idle-timeout", "--max-header-bytes",
                  "--slow-client-timeout", "--first-message-timeout", "--send-buffer-bytes",
                  "--srt-port", "--srt-passphrase", "--srt-latency", "--max-srt-connections"],
        "channels": ["--data", "--public-host", "--rtmp-port"],
        "admin-key": ["--data"],
        "token": ["--data"],
    ]
    static let flags: [String: [String]] = ["serve": ["--demo"]]

    static func variable(for option: String) -> String {
        "LIVELOOP_" + option.dropFirst(2).uppercased().replacingOccurrences(of: "-", with: "_")
    }

    static func apply(to arguments: [String], environment: [String: String]) -> [String] {
        guard let subcommand = arguments.first, !arguments.contains("--help"), !arguments.contains("-h") else { return arguments }
        var result = arguments
        for option in options[subcommand] ?? [] where !arguments.contains(where: { $0 == option || $0.hasPrefix(option + "=") }) {
            if let value = environment[variable(for: option)], !value.isEmpty { result += [option, value] }
        }
        for flag in flags[subcommand] ?? [] where !arguments.contains(flag) {
            if let value = environment[variable(for: flag)], ["1", "true", "yes"].contains(value.lowercased()) { result.append(flag) }
        }
        return result
    }
}
