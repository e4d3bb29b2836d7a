import ArgumentParser
import Foundation
import Storage

struct DataOptions: ParsableArguments {
    @Option(name: .customLong("data"), help: "Data directory (LIVELOOP_DATA).")
    var dataDirectory = "./liveloop-data"
    @Option(help: "PostgreSQL instead of SQLite in --data: postgres://user[:password]@host[:port]/database[?sslmode=disable|require] (LIVELOOP_DATABASE).")
    var database: String?
}

struct Channels: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, change, rotate keys of and delete channels (works with or without a running server).",
        subcommands: [Create.self, List.self, SetVideo.self, RotateKey.self, Delete.self]
    )

    /// Where the server takes publishers, for the URLs `channels` prints. The CLI may run on another machine than the
    /// server (or in another container), so nothing here is assumed silently: `--public-host`, `--rtmp-port` and
    /// `--srt-port` (or their variables) win; then the server's own configuration file (`--config`, LIVELOOP_CONFIG:
    /// its `public-host`, `rtmp-port`, `srt-port`, `tls-cert` and `rtmps-port`; its other keys are the server's
    /// business); what is still unknown is guessed (this machine's name, the default ports) and said to be a guess.
    struct URLOptions: ParsableArguments {
        @Option(help: "Host name encoders reach the server by (LIVELOOP_PUBLIC_HOST); without it and without --config, this machine's name is printed as a guess.")
        var publicHost: String?
        @Option(help: "The server's RTMP port (LIVELOOP_RTMP_PORT); 1935 unless --config says otherwise.")
        var rtmpPort: Int?
        @Option(help: "The server's SRT port (LIVELOOP_SRT_PORT); 9000 unless --config says otherwise.")
        var srtPort: Int?
        @Option(help: "The server's TOML configuration file, read for public-host, rtmp-port, srt-port, tls-cert and rtmps-port (LIVELOOP_CONFIG).")
        var config: String?

        func ingest() throws -> IngestURLs {
            var file: [String: String] = [:]
            if let config {
                guard let data = FileManager.default.contents(atPath: config) else { throw ConfigFile.Failure.unreadable(config) }
                for (option, value) in try ConfigFile.settings(String(decoding: data, as: UTF8.self), path: config) {
                    file[String(option.dropFirst(2))] = value
                }
            }
            func port(_ given: Int?, _ key: String) throws -> Int? {
                if let given { return given }
                guard let text = file[key] else { return nil }
                guard let value = Int(text), (1...65535).contains(value) else {
                    throw ValidationError("\(config ?? "the configuration file"): \(key) must be a port number, not \(text)")
                }
                return value
            }
            let host = [publicHost, file["public-host"]].compactMap { $0 }.first { !$0.isEmpty }
            // RTMPS opens only with a certificate, on the configured port or its default.
            let rtmps = file["tls-cert"] == nil ? nil : (try port(nil, "rtmps-port") ?? IngestURLs.defaultRTMPSPort)
            return IngestURLs(host: host, machine: ProcessInfo.processInfo.hostName,
                              rtmpPort: try port(rtmpPort, "rtmp-port"), srtPort: try port(srtPort, "srt-port"), rtmpsPort: rtmps)
        }
    }

    struct Output: Encodable {
        var name: String
        var createdAt: Date
        var rtmpURL: String
        var rtmpsURL: String?
        /// `srt://HOST:PORT?streamid=KEY` with the key when it is shown, `srt://HOST:PORT` otherwise.
        var srtURL: String
        /// WHIP ingest on the server's HTTP origin (`http(s)://HOST:HTTP_PORT` + this), the stream key as bearer token.
        var whipPath = "/live/whip"
        /// `configured` (from --public-host or the configuration file) or `machine` (this machine's name: a guess).
        var ingestHost: String
        /// What in the URLs is guessed, when something is.
        var ingestNote: String?
        var playbackPath: String
        var tenant: String
        var streamKey: String?
    }

    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func output(_ channel: Channel, key: String?, ingest: IngestURLs) -> Output {
        Output(name: channel.name, createdAt: channel.createdAt, rtmpURL: ingest.rtmp, rtmpsURL: ingest.rtmps,
               srtURL: ingest.srt(streamKey: key), ingestHost: ingest.hostIsGuessed ? "machine" : "configured",
               ingestNote: ingest.guessNote, playbackPath: "/live/\(channel.name)/index.m3u8", tenant: channel.tenantID,
               streamKey: key)
    }

    static func describe(_ output: Output) {
        print("channel:    \(output.name)")
        print("RTMP URL:   \(output.rtmpURL)   (OBS: Settings → Stream → Custom)")
        if let rtmps = output.rtmpsURL { print("RTMPS URL:  \(rtmps)") }
        if let key = output.streamKey { print("stream key: \(key)   (shown once; rotate-key makes a new one)") }
        print("SRT URL:    \(output.srtURL)\(output.streamKey == nil ? "?streamid=STREAM_KEY" : "")")
        print("WHIP URL:   http://HOST:8080\(output.whipPath)   (OBS: Service WHIP, Bearer Token the stream key)")
        if let note = output.ingestNote { print("note:       \(note)") }
        print("playback:   http://HOST:8080\(output.playbackPath)")
    }

    /// Says on standard error what `--json` output guessed, so a script's log shows it.
    static func warnIfGuessed(_ ingest: IngestURLs) {
        guard let note = ingest.guessNote else { return }
        FileHandle.standardError.write(Data("liveloop: \(note)\n".utf8))
    }

    static func emit(_ channel: Channel, key: String?, ingest: IngestURLs, json: Bool) throws {
        let out = output(channel, key: key, ingest: ingest)
        if json {
            warnIfGuessed(ingest)
            try printJSON(out)
        } else {
            describe(out)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a channel and print its stream key.")
        @Argument(help: "Channel name: 1–64 of a–z, 0–9, '-', '_' (not \"whip\").") var name: String
        @Option(help: "The tenant (name or id) that owns the channel; the default tenant otherwise.") var tenant: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var data: DataOptions
        @OptionGroup var urls: URLOptions

        func run() async throws {
            let ingest = try urls.ingest()
            let (channel, key) = try await data.withStore { store in
                var owner = Tenant.defaultID
                if let tenant {
                    guard let found = try await store.tenant(tenant) else { throw StoreError.tenantNotFound(tenant) }
                    owner = found.id
                }
                return try await store.createChannel(name: name, tenant: owner)
            }
            try Channels.emit(channel, key: key, ingest: ingest, json: json)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List channels.")
        @Option(help: "Only this tenant's channels (name or id).") var tenant: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var data: DataOptions
        @OptionGroup var urls: URLOptions

        func run() async throws {
            // Read first, so a configuration file that cannot be read is an error even where no URL is printed.
            let ingest = try urls.ingest()
            let channels = try await data.withStore { store in
                let channels = try await store.channels()
                guard let tenant else { return channels }
                guard let owner = try await store.tenant(tenant) else { throw StoreError.tenantNotFound(tenant) }
                return channels.filter { $0.tenantID == owner.id }
            }
            if json {
                Channels.warnIfGuessed(ingest)
                try Channels.printJSON(channels.map { Channels.output($0, key: nil, ingest: ingest) })
            } else if channels.isEmpty {
                print("no channels; create one with 'liveloop channels create NAME'")
            } else {
                for channel in channels { print(channel.name) }
            }
        }
    }

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rotate-key", abstract: "Give a channel a new stream key; the old one stops working.")
        @Argument var name: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var data: DataOptions
        @OptionGroup var urls: URLOptions

        func run() async throws {
            let ingest = try urls.ingest()
            let (channel, key) = try await data.withStore { store in
                let key = try await store.rotateKey(name: name)
                guard let channel = try await store.channel(named: name) else { throw StoreError.channelNotFound(name) }
                return (channel, key)
            }
            try Channels.emit(channel, key: key, ingest: ingest, json: json)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a channel.")
        @Argument var name: String
        @OptionGroup var data: DataOptions

        func run() async throws {
            try await data.withStore { try await $0.deleteChannel(name: name) }
            print("deleted \(name)")
        }
    }
}

struct AdminKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin-key", abstract: "Manage the admin API key.", subcommands: [Rotate.self]
    )

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a new admin API key (the old one stops working) and print it.")
        @OptionGroup var data: DataOptions

        func run() async throws {
            print(try await data.withStore { try await $0.rotateAdminKey() })
        }
    }
}
