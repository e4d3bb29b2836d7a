import Foundation
import Hummingbird
import Interaction
import NIOPosix
import Storage

/// `GET /api/v1/channels/CHANNEL/broadcasts` (the channel's broadcasts, newest first) and
/// `GET …/broadcasts/ID/report` (JSON; `?format=csv` or `…/report.csv` for CSV): analytics built from the event log
/// (docs/analytics.md). For the channel's hosts and the admin key.
///
/// Reports read and decode a broadcast's records, so they run on the blocking thread pool, not on an event loop or
/// the cooperative pool.
struct AnalyticsAPI {
    let store: any Store
    let live: LiveBroadcasts
    let authenticator: Authenticator

    enum Format: String { case json, csv }

    func register(on router: Router<LiveloopRequestContext>) {
        let reports = BroadcastReports(store: store)
        let live = live
        let group = router.group("api/v1/channels/:channel/broadcasts")
        group.get { request, context in
            let channel = try await requireHost(request, context)
            let liveID = live.id(for: channel)
            let list = try await reports.list(channel: channel, liveID: liveID, now: Date())
            return try jsonResponse(.ok, list)
        }
        group.get(":broadcast/report") { request, context in
            let format = request.uri.queryParameters.get("format") ?? "json"
            guard let format = Format(rawValue: format) else { throw APIError.badRequest(#"format must be "json" or "csv""#) }
            return try await report(request, context, reports: reports, format: format)
        }
        group.get(":broadcast/report.csv") { request, context in
            try await report(request, context, reports: reports, format: .csv)
        }
    }

    private func report(_ request: Request, _ context: LiveloopRequestContext, reports: BroadcastReports,
                        format: Format) async throws -> Response {
        let channel = try await requireHost(request, context)
        let broadcastID = context.parameters.get("broadcast") ?? ""
        let liveID = live.id(for: channel)
        let built = try await reports.report(channel: channel, broadcastID: broadcastID, liveID: liveID, now: Date())
        guard let report = built else { throw APIError.notFound("channel \"\(channel)\" has no broadcast \"\(broadcastID)\"") }
        switch format {
        case .json:
            return try jsonResponse(.ok, report)
        case .csv:
            var headers: HTTPFields = [.contentType: "text/csv; charset=utf-8", .cacheControl: "no-store"]
            headers[.contentDisposition] = #"attachment; filename="\#(channel)-\#(report.broadcastID).csv""#
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: .init(string: report.csv)))
        }
    }

    /// The channel name, once the caller is proven to be its host (a host token or the admin key), through the same
    /// `Authenticator` as every channel route.
    private func requireHost(_ request: Request, _ context: LiveloopRequestContext) async throws -> String {
        try await authenticator.requireRole(.host, request, context, refusal: "analytics are for the channel's hosts")
    }
}
