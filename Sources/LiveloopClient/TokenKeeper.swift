import Foundation
import Synchronization

/// The token an `InteractionClient` connects with, kept valid: an open join's token renewed before it expires (same
/// `sub`), a signed token asked of the app again when it is about to expire, a fixed token or none as given.
///
/// An actor, so two callers (a reconnect and the background renewal) never renew at once; the last token is also
/// mirrored in a `Mutex` for synchronous readers (`InteractionClient.token`).
actor TokenKeeper {
    enum Source: Sendable {
        case fixed(String?)
        case open(JoinAPIClient, name: String)
        case signed(@Sendable () async throws -> String)
    }

    /// A signed token is asked for again when it expires within this.
    static let signedMargin: TimeInterval = 60

    let source: Source
    private var pass: JoinPass?
    private var signed: (token: String, expiresAt: Date?)?
    /// The latest token and open-join pass, for synchronous readers.
    nonisolated let latest: Mutex<(token: String?, pass: JoinPass?)>

    init(_ source: Source, resuming: JoinPass? = nil) {
        self.source = source
        pass = resuming
        switch source {
        case .fixed(let token): latest = Mutex((token, nil))
        case .open: latest = Mutex((resuming?.token, resuming))
        case .signed: latest = Mutex((nil, nil))
        }
    }

    /// A token to connect with at `now`, renewing or fetching one first when the last is due.
    func token(at now: Date) async throws(JoinError) -> String? {
        switch source {
        case .fixed(let token):
            return token
        case .open(let api, let name):
            if let pass, now < pass.renewAt { return pass.token }
            return try await renewOpen(api, name: name, at: now).token
        case .signed(let provider):
            if let signed, let expiresAt = signed.expiresAt, expiresAt.timeIntervalSince(now) > Self.signedMargin {
                return signed.token
            }
            let token: String
            do {
                token = try await provider()
            } catch {
                throw .tokenProvider("\(error)")
            }
            signed = (token, Self.expiry(ofJWT: token))
            latest.withLock { $0.token = token }
            return token
        }
    }

    /// When the open join's token is due for renewal; nil for other sources or before the first join.
    func renewAt() -> Date? {
        guard case .open = source else { return nil }
        return pass?.renewAt
    }

    /// Renews the open join's token now (the background renewal), whether or not it is due.
    func renewNow(at now: Date) async throws(JoinError) {
        guard case .open(let api, let name) = source else { return }
        _ = try await renewOpen(api, name: name, at: now)
    }

    /// Renews the pass with its own token as the bearer (same `sub`); when the server no longer takes it (expired,
    /// revoked: 401), joins again by name as a new viewer.
    private func renewOpen(_ api: JoinAPIClient, name: String, at now: Date) async throws(JoinError) -> JoinPass {
        var renewed: JoinPass
        if let pass, now < pass.expiresAt {
            do throws(JoinError) {
                renewed = try await api.join(name: nil, bearer: pass.token)
            } catch .refused(status: 401, code: _, message: _) {
                renewed = try await api.join(name: name, bearer: nil)
            }
        } else {
            renewed = try await api.join(name: name, bearer: nil)
        }
        // The server's dates are whole seconds; never schedule a renewal in the past.
        if renewed.renewAt < now { renewed.renewAt = now.addingTimeInterval(max(1, renewed.expiresAt.timeIntervalSince(now) * 2 / 3)) }
        pass = renewed
        latest.withLock { $0 = (renewed.token, renewed) }
        return renewed
    }

    /// The `exp` claim of a JWT, read without checking the signature (only to know when to ask for a new one).
    static func expiry(ofJWT token: String) -> Date? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].count <= 8192 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64),
              let claims = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let exp = claims["exp"] as? Double else { return nil }
        return Date(timeIntervalSince1970: exp)
    }
}
