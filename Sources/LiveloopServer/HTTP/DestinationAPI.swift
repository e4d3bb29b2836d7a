import Foundation
import Hummingbird
import Interaction
import Storage

/// `/api/v1/channels/{channel}/destinations`: the other platforms a channel's broadcast is pushed to while it is live
/// (multistream; docs/multistream.md). Add, list (with each push's state), turn on or off, delete. Host or admin only.
/// The stream key is stored, never returned but masked, and never logged.
struct DestinationAPI {
    let store: any Store
    let multistream: Multistream
    let authenticator: Authenticator

    static let maxBodyBytes = 8 * 1024

    struct CreateRequest: Decodable {
        var url: String
        var key: String
        var name: String?
        var enabled: Bool?
    }

    struct UpdateRequest: Decodable {
        var enabled: Bool
    }

    struct StatusBody: Encodable {
        var state: String
        var since: Date
        var bytesOut: Int64
        var connects: Int
        var lastError: String?
        var lastErrorAt: Date?
        var retryAt: Date?

        init(_ status: RelayStatus) {
            state = status.state.rawValue
            since = status.since
            bytesOut = status.bytesOut
            connects = status.connects
            lastError = status.lastError
            lastErrorAt = status.lastErrorAt
            retryAt = status.retryAt
        }
    }

    struct DestinationBody: Encodable {
        var id: String
        var name: String
        var url: String
        /// The key, masked (its last four characters at most).
        var key: String
        var enabled: Bool
        var createdAt: Date
        var status: StatusBody

        init(_ destination: Destination, status: RelayStatus) {
            id = destination.id
            name = destination.name
            url = destination.url
            key = destination.key.masked
            enabled = destination.enabled
            createdAt = destination.createdAt
            self.status = StatusBody(status)
        }
    }

    func register(on router: Router<LiveloopRequestContext>) {
        let group = router.group("api/v1/channels/:channel/destinations")
        group.get { request, context in
            let channel = try await authenticator.requireRole(.host, request, context)
            var bodies: [DestinationBody] = []
            for destination in try await store.destinations(channel: channel) {
                bodies.append(DestinationBody(destination, status: await multistream.status(of: destination)))
            }
            return try jsonResponse(.ok, bodies)
        }
        group.post { request, context in
            let channel = try await authenticator.requireRole(.host, request, context)
            let body = try await request.body.collect(upTo: Self.maxBodyBytes)
            let create = try JSONDecoder().decode(CreateRequest.self, from: Data(body.readableBytesView))
            let target: DestinationURL
            do throws(DestinationURL.Refusal) {
                target = try DestinationURL(create.url, allowPrivateAddresses: multistream.configuration.allowPrivateAddresses)
            } catch {
                throw APIError(.badRequest, code: "invalid_url", message: error.description)
            }
            try DestinationFields.checkKey(create.key)
            var name = target.host
            if let given = create.name { name = try DestinationFields.checkName(given) }
            let destination: Destination
            do {
                destination = try await store.createDestination(
                    channel: channel, name: name, url: create.url, key: create.key, enabled: create.enabled ?? true,
                    limit: multistream.configuration.maxPerChannel
                )
            } catch let error as DestinationLimitReached {
                var refusal = APIError(.conflict, code: "too_many_destinations", message: error.description)
                refusal.limit = error.limit
                throw refusal
            } catch let error as StoreError {
                throw ChannelAPI.apiError(error)
            }
            await multistream.refresh(channel: channel)
            return try jsonResponse(.created, DestinationBody(destination, status: await multistream.status(of: destination)))
        }
        group.get(":id") { request, context in
            let channel = try await authenticator.requireRole(.host, request, context)
            let destination = try await destination(context, channel: channel)
            return try jsonResponse(.ok, DestinationBody(destination, status: await multistream.status(of: destination)))
        }
        group.patch(":id") { request, context in
            let channel = try await authenticator.requireRole(.host, request, context)
            let body = try await request.body.collect(upTo: Self.maxBodyBytes)
            let update = try JSONDecoder().decode(UpdateRequest.self, from: Data(body.readableBytesView))
            let id = context.parameters.get("id") ?? ""
            guard let destination = try await store.setDestination(id: id, channel: channel, enabled: update.enabled) else {
                throw Self.notFound(id)
            }
            await multistream.refresh(channel: channel)
            return try jsonResponse(.ok, DestinationBody(destination, status: await multistream.status(of: destination)))
        }
        group.delete(":id") { request, context in
            let channel = try await authenticator.requireRole(.host, request, context)
            let id = context.parameters.get("id") ?? ""
            guard try await store.deleteDestination(id: id, channel: channel) else { throw Self.notFound(id) }
            await multistream.refresh(channel: channel)
            return Response(status: .noContent)
        }
    }

    private func destination(_ context: LiveloopRequestContext, channel: String) async throws -> Destination {
        let id = context.parameters.get("id") ?? ""
        guard let destination = try await store.destination(id: id, channel: channel) else { throw Self.notFound(id) }
        return destination
    }

    static func notFound(_ id: String) -> APIError {
        .notFound("no destination \"\(id.prefix(64))\" on this channel")
    }
}
