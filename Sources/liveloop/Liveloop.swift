import ArgumentParser
import Foundation

@main
struct Liveloop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "liveloop",
        abstract: "Interactive live streaming server: RTMP in, LL-HLS out, interactions on top.",
        discussion: """
        Every option can also be set from the environment as LIVELOOP_<OPTION> (e.g. LIVELOOP_HTTP_PORT=9000,
        LIVELOOP_DATA=/var/lib/liveloop, LIVELOOP_DEMO=1) and, for serve, in a TOML file given with --config (the same
        names without the dashes: http-port = 9000). The command line wins over the environment, which wins over the file.
        deploy/liveloop.toml is an example with every key; docs/operations.md covers logs (--log-format json), metrics,
        the Grafana dashboard, the systemd unit and the SIGTERM drain.
        """,
        subcommands: [Serve.self, Channels.self, Tenants.self, Token.self, Tokens.self, AdminKey.self, Bench.self, LoadTest.self]
    )

    static func main() async {
        let environment = ProcessInfo.processInfo.environment
        var arguments = EnvironmentOptions.apply(to: Array(CommandLine.arguments.dropFirst()), environment: environment)
        do {
            arguments = try EnvironmentOptions.applyConfigFile(to: arguments)
        } catch {
            FileHandle.standardError.write(Data("liveloop: \(error)\n".utf8))
            Foundation.exit(64)
        }
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
                  "--segments", "--reconnect-grace", "--max-connections", "--log-level", "--log-format",
                  "--max-connections-per-address", "--header-timeout", "--idle-timeout", "--max-header-bytes",
                  "--slow-client-timeout", "--first-message-timeout", "--send-buffer-bytes", "--config", "--drain",
                  "--rtmp-max-connections", "--rtmp-max-connections-per-address", "--rtmp-setup-timeout", "--rtmp-idle-timeout",
                  "--srt-port", "--srt-passphrase", "--srt-latency", "--max-srt-connections",
                  "--webrtc-port", "--webrtc-advertise-address", "--webrtc-max-viewers",
                  "--tls-cert", "--tls-key", "--rtmps-port",
                  "--webhook-max-attempts", "--webhook-retry-base", "--webhook-timeout", "--webhook-concurrency", "--max-webhooks",
                  "--publish-hook", "--publish-hook-secret", "--publish-hook-timeout", "--recording-retention-days",
                  "--max-destinations", "--destination-ca-file", "--database", "--database-connections",
                  "--node-id", "--node-address"],
        "channels": ["--data", "--database", "--public-host", "--rtmp-port", "--srt-port", "--config"],
        "admin-key": ["--data", "--database"],
        "tenants": ["--data", "--database"],
        "token": ["--data", "--database"],
        "tokens": ["--data", "--database"],
    ]
    static let flags: [String: [String]] = ["serve": ["--demo", "--webhook-allow-private", "--destination-allow-private"]]

    /// Subcommands whose every option the `--config` file may set. (`channels` takes `--config` too, but reads only
    /// the ingest keys of the server's file itself: see `Channels.URLOptions`.)
    static let configFileCommands: Set<String> = ["serve"]

    /// Adds what the `--config` file sets (see `ConfigFile`), for the subcommands that take one.
    static func applyConfigFile(to arguments: [String]) throws(ConfigFile.Failure) -> [String] {
        guard let subcommand = arguments.first, configFileCommands.contains(subcommand), let options = options[subcommand],
              !arguments.contains("--help"), !arguments.contains("-h") else { return arguments }
        var path: String?
        for (index, argument) in arguments.enumerated() {
            if argument == "--config", index + 1 < arguments.count { path = arguments[index + 1] }
            if argument.hasPrefix("--config=") { path = String(argument.dropFirst("--config=".count)) }
        }
        guard let path else { return arguments }
        return try ConfigFile.apply(path: path, to: arguments, options: options, flags: flags[subcommand] ?? [])
    }

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
