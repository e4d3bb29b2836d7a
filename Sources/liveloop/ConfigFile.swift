import Foundation
import TOMLKit

/// `--config FILE` (or LIVELOOP_CONFIG): a TOML file with the same keys as the command's options, written without the
/// leading dashes (`http-port = 8080`, or `http_port`; `demo = true` for a flag). The command line wins over the
/// environment, which wins over the file. Every key must be an option of the command: a typo is an error, not a
/// silently ignored setting.
enum ConfigFile {
    enum Failure: Error, CustomStringConvertible {
        case unreadable(String)
        case malformed(String, String)
        case unknownKey(String, key: String)
        case badValue(String, key: String)

        var description: String {
            switch self {
            case let .unreadable(path): "cannot read the configuration file \(path)"
            case let .malformed(path, reason): "\(path) is not valid TOML: \(reason)"
            case let .unknownKey(path, key): "\(path): \"\(key)\" is not an option of this command"
            case let .badValue(path, key): "\(path): \"\(key)\" must be a string, a number or true/false"
            }
        }
    }

    /// The settings of a TOML document, each as its `--option` and its value as text (`true`/`false` for booleans).
    static func settings(_ text: String, path: String) throws(Failure) -> [(option: String, value: String)] {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch {
            throw .malformed(path, "\(error)")
        }
        var settings: [(option: String, value: String)] = []
        for (key, value) in table {
            let option = "--" + key.replacingOccurrences(of: "_", with: "-")
            if let bool = value.bool {
                settings.append((option, bool ? "true" : "false"))
            } else if let int = value.int {
                settings.append((option, String(int)))
            } else if let double = value.double {
                settings.append((option, String(double)))
            } else if let string = value.string {
                settings.append((option, string))
            } else {
                throw .badValue(path, key: key)
            }
        }
        return settings.sorted { $0.option < $1.option }
    }

    /// Adds what the file at `path` sets to `arguments`, for the options and flags of `subcommand` that the command
    /// line (and the environment, already applied) did not give.
    static func apply(path: String, to arguments: [String], options: [String], flags: [String]) throws(Failure) -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path) }
        var result = arguments
        for (option, value) in try settings(String(decoding: data, as: UTF8.self), path: path) {
            let given = arguments.contains { $0 == option || $0.hasPrefix(option + "=") }
            if flags.contains(option) {
                guard value == "true" || value == "false" else { throw .badValue(path, key: String(option.dropFirst(2))) }
                if value == "true", !given { result.append(option) }
            } else if options.contains(option), option != "--config" {
                if !given { result += [option, value] }
            } else {
                throw .unknownKey(path, key: String(option.dropFirst(2)))
            }
        }
        return result
    }
}
