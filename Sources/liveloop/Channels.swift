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

    struct URLOptions: ParsableArguments {
        @Option(help: "Host name for the RTMP URL (LIVELOOP_PUBLIC_HOST); this machine's name by default.")
        var publicHost: String?
        @Option(help: "RTMP port for the RTMP URL (LIVELOOP_RTMP_PORT).")
        var rtmpPort = 1935

        var rtmpURL: String { "rtmp://\(publicHost ?? ProcessInfo.processInfo.hostName):\(rtmpPort)/live" }
    }

    struct Output: Encodable {
        var name: String
        var createdAt: Date
        var rtmpURL: String
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

    static func output(_ channel: Channel, key: String?, urls: URLOptions) -> Output {
        Output(name: channel.name, createdAt: channel.createdAt, rtmpURL: urls.rtmpURL,
               playbackPath: "/live/\(channel.name)/index.m3u8", tenant: channel.tenantID, streamKey: key)
    }

    static func describe(_ output: Output) {
        print("channel:    \(output.name)")
        print("RTMP URL:   \(output.rtmpURL)   (OBS: Settings → Stream → Custom)")
        if let key = output.streamKey { print("stream key: \(key)   (shown once; rotate-key makes a new one)") }
        print("playback:   http://HOST:8080\(output.playbackPath)")
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a channel and print its stream key.")
        @Argument(help: "Channel name: 1–64 of a–z, 0–9, '-', '_'.") var name: String
        @Option(help: "The tenant (name or id) that owns the channel; the default tenant otherwise.") var tenant: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var data: DataOptions
        @OptionGroup var urls: URLOptions

        func run() async throws {
            let (channel, key) = try await data.withStore { store in
                var owner = Tenant.defaultID
                if let tenant {
                    guard let found = try await store.tenant(tenant) else { throw StoreError.tenantNotFound(tenant) }
                    owner = found.id
                }
                return try await store.createChannel(name: name, tenant: owner)
            }
            let out = Channels.output(channel, key: key, urls: urls)
            if json { try Channels.printJSON(out) } else { Channels.describe(out) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List channels.")
        @Option(help: "Only this tenant's channels (name or id).") var tenant: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var data: DataOptions
        @OptionGroup var urls: URLOptions

        func run() async throws {
            let channels = try await data.withStore { store in
                let channels = try await store.channels()
                guard let tenant else { return channels }
                guard let owner = try await store.tenant(tenant) else { throw StoreError.tenantNotFound(tenant) }
                return channels.filter { $0.tenantID == owner.id }
            }
            if json {
                try Channels.printJSON(channels.map { Channels.output($0, key: nil, urls: urls) })
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
            let (channel, key) = try await data.withStore { store in
                let key = try await store.rotateKey(name: name)
                guard let channel = try await store.channel(named: name) else { throw StoreError.channelNotFound(name) }
                return (channel, key)
            }
            let out = Channels.output(channel, key: key, urls: urls)
            if json { try Channels.printJSON(out) } else { Channels.describe(out) }
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
