import ArgumentParser
import Foundation
import LiveMedia
import LiveloopServer
import Storage

/// `on` or `off`, as the operator types it.
enum Switch: String, ExpressibleByArgument, CaseIterable {
    case on, off
    var isOn: Bool { self == .on }
}

extension Channels {
    struct SetVideo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Change a channel's settings: its rendition ladder and whether it records.",
            discussion: """
                Takes effect at the channel's next broadcast (PUT /api/v1/channels/NAME/video changes a live one at once).
                Renditions: \(RenditionPreset.all.map(\.name).joined(separator: ", ")); 'none' for the source only.
                """
        )
        @Argument(help: "Channel name.") var name: String
        @Option(help: "Renditions made from the source, comma-separated (e.g. 720p,480p,360p), or 'none'.")
        var renditions: String?
        @Option(help: "Record each broadcast: on or off.") var record: Switch?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var data: DataOptions

        func validate() throws {
            if renditions == nil && record == nil { throw ValidationError("nothing to change: give --renditions and/or --record") }
        }

        func run() async throws {
            let names = renditions.map { list in
                list == "none" ? [] : list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            }
            do {
                let updated = try await data.withStore { store in
                    let updated = try ChannelVideo.applying(.init(renditions: names, record: record?.isOn),
                                                            to: await store.videoSettings(channel: name))
                    try await store.saveVideoSettings(channel: name, updated)
                    return updated
                }
                if json {
                    try Channels.printJSON(updated)
                } else {
                    print("channel:    \(name)")
                    print("renditions: \(updated.renditions.isEmpty ? "source only" : "source, " + updated.renditions.joined(separator: ", "))")
                    print("record:     \(updated.record ? "on" : "off")")
                }
            } catch let error as StoreError {
                throw ValidationError(error.description)
            } catch let error as RenditionPreset.LadderError {
                throw ValidationError(error.description)
            }
        }
    }
}
